//! Dutch words for the demo data: initiative titles per theme, names, streets, organisations.

use crate::theme::Theme;

/// Title templates per theme; `{plek}` becomes a street or the wijk's name.
pub(crate) fn titles(theme: Theme) -> &'static [&'static str] {
    match theme {
        Theme::Groen => &[
            "Moestuin {plek}",
            "Geveltuintjes {plek}",
            "Bomen planten aan de {plek}",
            "Pluktuin {plek}",
            "Bloembakken {plek}",
            "Insectenhotel {plek}",
        ],
        Theme::Wijkonderhoud => &[
            "Buurtbankjes {plek}",
            "Opschoondag {plek}",
            "Nieuwe verlichting in het steegje bij de {plek}",
            "Graffiti weg in de {plek}",
            "Afvalbakken {plek}",
        ],
        Theme::Speeltuinen => &[
            "Speeltuin {plek} opknappen",
            "Natuurspeelplek {plek}",
            "Nieuwe schommel {plek}",
            "Trapveldje {plek}",
        ],
        Theme::Veiligheid => &[
            "Buurtpreventie {plek}",
            "Veilig oversteken bij de {plek}",
            "Verkeersdrempels {plek}",
            "AED voor de {plek}",
        ],
        Theme::Welzijn => &[
            "Koffieochtend {plek}",
            "Eettafel voor ouderen {plek}",
            "Taalcafé {plek}",
            "Huiswerkklas {plek}",
            "Repair café {plek}",
        ],
        Theme::Participatie => &[
            "Buurtbarbecue {plek}",
            "Straatfeest {plek}",
            "Bewonersavond {plek}",
            "Buurtkrant {plek}",
            "Burendag {plek}",
        ],
        Theme::Sport => &[
            "Bootcamp in het park {plek}",
            "Beweegtuin {plek}",
            "Voetbaltoernooi {plek}",
            "Wandelgroep {plek}",
        ],
        Theme::Cultuur => &[
            "Muurschildering {plek}",
            "Zomerconcert {plek}",
            "Buurtbieb {plek}",
            "Open podium {plek}",
            "Kunstroute {plek}",
        ],
    }
}

pub(crate) const STREETS: &[&str] = &[
    "Sonsbeekweg",
    "Klarendalseweg",
    "Hommelseweg",
    "Steenstraat",
    "Rosendaalseweg",
    "Presikhaafweg",
    "Huissensestraat",
    "Vredenburgweg",
    "Kronenburgsingel",
    "Zijpendaalseweg",
    "Utrechtseweg",
    "Geitenkamp",
    "Vlamoven",
    "Drielsedijk",
    "Eldenseweg",
    "Schuytgraaf",
    "Thomas a Kempislaan",
    "Velperweg",
    "Apeldoornseweg",
    "Bakenbergseweg",
    "Bouriciusstraat",
    "Nijhoffstraat",
];

pub(crate) const DESCRIPTIONS: &[&str] = &[
    "Met een groep buren willen we dit samen opzetten en onderhouden.",
    "Veel bewoners hebben hierom gevraagd op de laatste bewonersavond.",
    "We zoeken een kleine bijdrage voor materiaal; de rest doen we zelf.",
    "Goed voor jong en oud in de straat, en het brengt mensen bij elkaar.",
    "De school en het buurthuis doen mee en helpen met de organisatie.",
    "Een plek die nu verwaarloosd is, wordt weer van de buurt.",
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Anna", "Bram", "Fatima", "Daan", "Sanne", "Mohamed", "Eva", "Jeroen", "Aylin", "Pieter",
    "Noor", "Kees", "Lotte", "Yusuf", "Marieke", "Sem", "Ingrid", "Rachid", "Femke", "Thijs",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "de Vries",
    "Jansen",
    "El Amrani",
    "Bakker",
    "Visser",
    "Yilmaz",
    "Smit",
    "Mulder",
    "de Boer",
    "Kaya",
    "van Dijk",
    "Hendriks",
    "Bouzid",
    "Peters",
    "van den Berg",
    "Willems",
];

pub(crate) const ORGANISATIONS: &[&str] = &[
    "Buurtvereniging",
    "Rijnstad",
    "Volkshuis",
    "IVN Arnhem",
    "Wijkraad",
    "Stichting Present",
    "Sportbedrijf Arnhem",
    "Bibliotheek Arnhem",
];

pub(crate) const CONNECT_NOTES: &[&str] = &[
    "Zelfde idee, samen sterker: we brengen de initiatiefnemers met elkaar in contact.",
    "Kan helpen met materiaal en vrijwilligers.",
    "Heeft ervaring met een vergelijkbaar project in een andere wijk.",
];

pub(crate) const REJECT_REASONS: &[&str] = &[
    "Dit valt onder het reguliere onderhoud door de gemeente; we hebben het doorgegeven.",
    "Het initiatief past niet binnen de criteria van het wijkbudget.",
    "Het budget voor dit thema is dit jaar op; dien het volgend jaar opnieuw in.",
];

pub(crate) const REFER_NOTES: &[&str] = &[
    "Individuele hulpvraag; het sociaal wijkteam neemt contact op.",
    "Vraag over ondersteuning thuis, doorgezet met toestemming van de bewoner.",
];

pub(crate) const WITHDRAW_REASONS: &[&str] = &[
    "Geen tijd meer om het te organiseren.",
    "De buren hebben het zelf al geregeld.",
    "Verhuisd naar een andere wijk.",
];

pub(crate) const REPORTS: &[&str] = &[
    "Uitgevoerd zoals gepland; veel buren deden mee.",
    "Klaar! Foto's staan in de buurtapp.",
    "Gelukt, met iets minder kosten dan begroot.",
];

/// The sociale wijkteams, one per gebied in Arnhem's numbering.
pub(crate) const SOCIALE_WIJKTEAMS: &[&str] = &[
    "Sociaal wijkteam Centrum",
    "Sociaal wijkteam Noordwest",
    "Sociaal wijkteam Noordoost",
    "Sociaal wijkteam Presikhaaf",
    "Sociaal wijkteam Malburgen",
    "Sociaal wijkteam Schuytgraaf-Elderveld",
    "Sociaal wijkteam Elden-De Laar",
    "Sociaal wijkteam Zuid",
];

//! Similar initiatives: which initiatives say much the same as a text, so that a resident sees
//! before submitting that neighbours have the same idea, and the team Leefomgeving can connect
//! the people behind them.
//!
//! # Text
//!
//! Residents write the same wish in different words ("speeltuin opknappen", "speelplek voor
//! kinderen vernieuwen"), so a text becomes *features* rather than words ([`Profile::of`]):
//! - words are folded (lower case, accents dropped: `café` = `cafe`), split on everything that
//!   is not a letter or digit, and Dutch function words ([`STOP_WORDS`]) and the words nearly
//!   every initiative uses ([`GENERIC_WORDS`]: `straat`, `buurt`, `bewoners`) are dropped;
//! - a word loses its diminutive (`bankjes` → `bank`) and is then stemmed with the Dutch Snowball
//!   stemmer (`speeltuinen` = `speeltuin`, `eenzame` = `eenzaam`);
//! - a word of the municipal vocabulary also counts as its *concept* ([`CONCEPTS`]): `AED`,
//!   `defibrillator` and `hartstarter` are one thing; so are `speeltuin`, `speelplek` and
//!   `speeltoestel`. A compound counts too when it starts or ends with such a word
//!   (`buurtspeeltuin`, `reanimatiecursus`);
//! - the title's words also give character 4-grams (of the word with a space before and after),
//!   so compounds that share a part (`moestuin`, `buurtmoestuin`, `groentetuin`) meet even
//!   where neither a stem nor a concept does.
//!
//! The concept table is short and kept by hand: it holds what the municipality's own vocabulary
//! says in several ways, not the words of any one initiative.
//!
//! # Ranking
//!
//! Okapi BM25 ([`K1`], [`B`]), once over the word and concept features and once over the
//! 4-grams (weighted [`GRAM_WEIGHT`]); a title's features count [`TITLE_WEIGHT`] times. The score
//! is divided by what the query's text would score against itself, so that it reads the same for
//! a short title and a long description: about 1 for the same text, 0 for nothing in common.
//! Results under [`MIN_SCORE`] are left out: they share little more than part of a word.
//!
//! # Work
//!
//! [`SimilarIndex`] is an inverted index kept incrementally: [`SimilarIndex::apply`] adds an
//! initiative when its `InitiativeSubmitted` event is applied (titles and descriptions never
//! change afterwards), so a query never reads every initiative. A query's work is bounded before
//! it is done: texts have their limits ([`Title`], [`Description`]), only the first
//! [`MAX_DESCRIPTION_WORDS`] words of a description count, and of the query's features only the
//! [`MAX_QUERY_WORDS`] and [`MAX_QUERY_GRAMS`] rarest are looked up (the rarest say the most and
//! have the shortest posting lists).

use std::collections::HashMap;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::codes::WijkCode;
use crate::events::{DomainEvent, Recorded};
use crate::ids::InitiativeId;
use crate::text::{Description, Title};

/// How much more a feature of the title counts than one of the description.
pub const TITLE_WEIGHT: f64 = 2.0;
/// How much a feature of the description counts, and each of the title's 4-grams.
pub const DESCRIPTION_WEIGHT: f64 = 1.0;
/// How much the 4-gram score counts beside the word score.
pub const GRAM_WEIGHT: f64 = 0.5;
/// BM25's term-frequency saturation.
pub const K1: f64 = 1.2;
/// BM25's length normalisation.
pub const B: f64 = 0.75;
/// The lowest score returned (see the module's "Ranking").
pub const MIN_SCORE: f64 = 0.03;
/// Of a description, only this many words count (in the index and in a query).
pub const MAX_DESCRIPTION_WORDS: usize = 200;
/// The most word and concept features of a query that are looked up.
pub const MAX_QUERY_WORDS: usize = 48;
/// The most 4-gram features of a query that are looked up.
pub const MAX_QUERY_GRAMS: usize = 48;

/// Dutch function words and the words every request uses ("graag", "willen"), folded.
#[rustfmt::skip]
pub const STOP_WORDS: &[&str] = &[
    "aan", "al", "alle", "alleen", "als", "ben", "bij", "daar", "dan", "dat", "de", "deze", "die",
    "dit", "doen", "door", "dus", "een", "en", "er", "ergens", "gaan", "graag", "had", "heb",
    "hebben", "heeft", "het", "hier", "hij", "hoe", "hun", "ik", "in", "is", "je", "jullie",
    "kan", "komen", "kunnen", "maar", "me", "meer", "met", "mij", "mijn", "moet", "moeten", "na",
    "naar", "niet", "nog", "nu", "of", "om", "omdat", "ons", "onze", "ook", "op", "over", "te",
    "tegen", "toch", "tot", "u", "uit", "uw", "van", "veel", "voor", "want", "was", "wat", "we",
    "weer", "wel", "welke", "wie", "wij", "wil", "willen", "wordt", "worden", "zal", "ze", "zich",
    "zij", "zijn", "zo", "zodat", "zou", "zouden",
];

/// Words nearly every initiative uses to say where or for whom, not what: they are dropped like
/// stop words, or they would make every initiative in "de straat" alike.
#[rustfmt::skip]
pub const GENERIC_WORDS: &[&str] = &[
    "arnhem", "bewoner", "bewoners", "buren", "buurt", "buurtbewoners", "fijn", "goed", "idee",
    "iedereen", "initiatief", "mensen", "mooi", "nieuw", "nieuwe", "plek", "plekken", "samen",
    "straat", "straten", "wijk", "wijken",
];

/// The municipal vocabulary: each row is one concept and the words that name it. A word counts
/// as its concept when it or its stem is one of these words or their stems, or starts or ends
/// with one of at least five letters (a compound: `buurtspeeltuin`, `reanimatiecursus`).
#[rustfmt::skip]
pub const CONCEPTS: &[(&str, &[&str])] = &[
    ("aed", &["aed", "defibrillator", "hartstarter", "reanimatie", "reanimeren"]),
    ("spelen", &["speeltuin", "speelplek", "speelplaats", "speelveld", "speeltoestel", "schommel",
        "glijbaan", "klimrek", "wipwap"]),
    ("zitten", &["bank", "bankje", "zitbank", "zitplek", "zitplaats", "zitten", "picknicktafel",
        "uitrusten"]),
    ("afval", &["afval", "zwerfafval", "vuil", "rommel", "zwerfvuil", "prikken", "prikactie",
        "schoonmaak", "schoonmaken", "opruimen", "peuken", "vuilniszak"]),
    ("moestuin", &["moestuin", "groentetuin", "volkstuin", "groente", "kweken", "moestuinbak"]),
    ("snelheid", &["verkeersdrempel", "drempel", "snelheid", "hardrijden", "hardrijders",
        "snelheidsdisplay"]),
    ("verlichting", &["verlichting", "lantaarnpaal", "straatlantaarn", "lamp", "donker",
        "pikdonker"]),
    ("ouderen", &["ouderen", "senioren", "bejaarden", "eenzaam", "eenzaamheid", "alleenstaand"]),
    ("honden", &["hond", "honden", "hondenpoep", "hondenuitlaatplaats", "uitlaatplaats",
        "losloopgebied", "hondenveld"]),
    ("vergroening", &["groen", "groener", "vergroening", "geveltuin", "bloembak", "beplanting",
        "tegelwippen", "versteend"]),
    ("jongeren", &["jongeren", "jeugd", "tieners", "tiener", "hangplek", "pubers"]),
    ("feest", &["feest", "buurtfeest", "straatfeest", "barbecue", "bbq", "festival",
        "buurtfestival"]),
    ("fiets", &["fiets", "fietsen", "fietsenrek", "fietsenstalling", "stalling"]),
    ("sport", &["sport", "sporten", "voetbal", "pannakooi", "trapveld", "fitness", "bootcamp"]),
    ("water", &["regenton", "wateroverlast", "regenwater", "afkoppelen"]),
    ("ontmoeting", &["ontmoeten", "ontmoeting", "ontmoetingsplek", "buurthuis", "wijkcentrum",
        "koffieochtend"]),
];

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Dutch));

/// The concept of each stemmed vocabulary word.
static CONCEPT_OF: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for (concept, words) in CONCEPTS {
        for word in *words {
            map.insert(fold(word), *concept);
            map.insert(stem(&fold(word)), *concept);
        }
    }
    map
});

/// The smallest ending of a compound that may name its concept.
const MIN_COMPOUND_PART: usize = 5;
/// The smallest rest of a compound beside that part.
const MIN_COMPOUND_REST: usize = 3;

/// Lower case without accents or other combining marks.
fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A folded word without its diminutive, stemmed.
fn stem(word: &str) -> String {
    STEMMER.stem(undiminish(word)).into_owned()
}

/// `bankje(s)` → `bank`, `boompje` → `boom`, `tuintje` → `tuin`; words too short to be
/// diminutives stay.
fn undiminish(word: &str) -> &str {
    for suffix in ["tjes", "pjes", "jes", "tje", "pje", "je"] {
        if let Some(base) = word.strip_suffix(suffix) {
            if base.chars().count() >= 3 {
                return base;
            }
        }
    }
    word
}

/// The concept a word names, by its stem or its folded form, itself or as the first or last part
/// of a compound (`buurtspeeltuin`, `reanimatiecursus`).
fn concept_of(word: &str, stem: &str) -> Option<&'static str> {
    let whole = [stem, word].into_iter().find_map(|w| CONCEPT_OF.get(w));
    if let Some(concept) = whole {
        return Some(concept);
    }
    // A compound: a part of at least MIN_COMPOUND_PART letters and a rest of at least
    // MIN_COMPOUND_REST, so short words cost no lookups.
    [stem, word].into_iter().find_map(|w| {
        let letters = w.chars().count();
        if letters < MIN_COMPOUND_PART + MIN_COMPOUND_REST {
            return None;
        }
        w.char_indices()
            .enumerate()
            .skip(MIN_COMPOUND_REST)
            .take(letters + 1 - MIN_COMPOUND_PART - MIN_COMPOUND_REST)
            .flat_map(|(n, (i, _))| {
                // `w[i..]` starts after `n` letters; the prefix of as many letters from the end.
                let prefix_end = w
                    .char_indices()
                    .nth(letters - n)
                    .map_or(w.len(), |(j, _)| j);
                [&w[i..], &w[..prefix_end]]
            })
            .find_map(|part| CONCEPT_OF.get(part).copied())
    })
}

/// The folded words of a text that are not stop words, at most `limit`.
fn words(text: &str, limit: usize) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(fold)
        .filter(|w| {
            w.chars().count() >= 2
                && !STOP_WORDS.contains(&w.as_str())
                && !GENERIC_WORDS.contains(&w.as_str())
        })
        .take(limit)
}

/// Features with their weighted counts, and their weighted total (the length BM25 normalises by).
#[derive(Debug, Clone, Default, PartialEq)]
struct Features {
    counts: HashMap<Box<str>, f64>,
    len: f64,
}

impl Features {
    fn add(&mut self, feature: String, weight: f64) {
        *self.counts.entry(feature.into()).or_default() += weight;
        self.len += weight;
    }
}

/// The features of one text: words and concepts (`w:…`, `c:…`), and the title's 4-grams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    words: Features,
    grams: Features,
}

impl Profile {
    /// The features of an initiative's (or a would-be initiative's) title and description.
    pub fn of(title: &Title, description: &Description) -> Profile {
        Profile::of_with(title, description, &mut Vocabulary::default())
    }

    /// [`Profile::of`], with the word features remembered in `vocabulary` (stemming and the
    /// concept look-up are most of the work, and a corpus repeats its words).
    fn of_with(title: &Title, description: &Description, vocabulary: &mut Vocabulary) -> Profile {
        let mut profile = Profile::default();
        for word in words(title.as_str(), usize::MAX) {
            profile.add_word(&word, TITLE_WEIGHT, vocabulary);
            let padded: Vec<char> = format!(" {} ", undiminish(&word)).chars().collect();
            for gram in padded.windows(4) {
                profile.grams.add(gram.iter().collect(), DESCRIPTION_WEIGHT);
            }
        }
        for word in words(description.as_str(), MAX_DESCRIPTION_WORDS) {
            profile.add_word(&word, DESCRIPTION_WEIGHT, vocabulary);
        }
        profile
    }

    fn add_word(&mut self, word: &str, weight: f64, vocabulary: &mut Vocabulary) {
        let (stem, concept) = vocabulary.0.entry(word.into()).or_insert_with(|| {
            let stem = stem(word);
            let concept = concept_of(word, &stem).map(|c| format!("c:{c}").into());
            (format!("w:{stem}").into(), concept)
        });
        if let Some(concept) = concept {
            self.words.add(concept.to_string(), weight);
        }
        self.words.add(stem.to_string(), weight);
    }

    /// True when the text had no word that counts (only stop words, say).
    pub fn is_empty(&self) -> bool {
        self.words.counts.is_empty()
    }
}

/// The word and concept features of each folded word seen: `w:` and its stem, `c:` and its
/// concept if it names one.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Vocabulary(HashMap<Box<str>, WordFeatures>);

/// A word's `w:` feature, and its `c:` feature if it names a concept.
type WordFeatures = (Box<str>, Option<Box<str>>);

/// One feature's posting list: the documents that have it, in document order, each as the
/// distance from the one before (LEB128: one byte below 128) and its weighted count (one byte).
/// About two bytes a posting, where a `(u32, f32)` pair took eight, and more with a `Vec`'s
/// spare capacity: at a million events the index is a fifth of what it was.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Postings {
    /// How many documents have the feature (BM25's document frequency).
    len: u32,
    /// The last document's number, which the next one's distance is from.
    last: u32,
    bytes: Bytes,
}

impl Postings {
    fn push(&mut self, doc: u32, count: f64) {
        // Documents come in increasing order; a `last` beyond `doc` (only from a damaged
        // snapshot) gives a distance of 0 rather than a panic.
        let mut distance = if self.len == 0 {
            doc
        } else {
            doc.saturating_sub(self.last)
        };
        loop {
            let byte = (distance & 0x7f) as u8;
            distance >>= 7;
            if distance == 0 {
                self.bytes.0.push(byte);
                break;
            }
            self.bytes.0.push(byte | 0x80);
        }
        self.bytes.0.push(count_byte(count));
        self.len += 1;
        self.last = doc;
    }

    /// Each document's number and weighted count, in order. Bytes that are not such a list
    /// (a damaged snapshot's) end it early instead of panicking: a distance of more than five
    /// bytes, or one past `u32::MAX`.
    fn iter(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        let mut bytes = self.bytes.0.iter().copied();
        let mut doc = 0u32;
        let mut first = true;
        std::iter::from_fn(move || {
            let mut distance = 0u32;
            for shift in (0..35).step_by(7) {
                let byte = bytes.next()?;
                distance |= u32::from(byte & 0x7f).checked_shl(shift)?;
                if byte & 0x80 == 0 {
                    doc = if first {
                        distance
                    } else {
                        doc.checked_add(distance)?
                    };
                    first = false;
                    let count = bytes.next()?;
                    return Some((doc, f64::from(count)));
                }
            }
            None
        })
    }
}

/// A weighted count as one byte. The weights ([`TITLE_WEIGHT`], [`DESCRIPTION_WEIGHT`]) are
/// whole numbers, so counts are too; above [`MAX_COUNT`] they saturate BM25 anyway (a query's
/// counts are capped alike, so a text still scores 1 against itself).
fn count_byte(count: f64) -> u8 {
    count.round().clamp(1.0, MAX_COUNT) as u8
}

/// The highest weighted count kept (what a byte holds).
const MAX_COUNT: f64 = 255.0;

/// Bytes that MessagePack stores as bytes (a `Vec<u8>` would be an array of numbers).
#[derive(Debug, Clone, Default, PartialEq)]
struct Bytes(Vec<u8>);

impl serde::Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Bytes, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(byte) = seq.next_element()? {
                    bytes.push(byte);
                }
                Ok(Bytes(bytes))
            }
        }
        deserializer.deserialize_bytes(Visitor)
    }
}

/// One kind of feature in the index: its posting lists and every document's length, for BM25.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Field {
    postings: HashMap<Box<str>, Postings>,
    /// By document number.
    lengths: Vec<f32>,
    total_len: f64,
}

impl Field {
    fn add(&mut self, doc: u32, features: &Features) {
        self.lengths.push(features.len as f32);
        self.total_len += features.len;
        for (feature, &count) in &features.counts {
            // Most features are known already: no key to copy then.
            match self.postings.get_mut(feature) {
                Some(postings) => postings.push(doc, count),
                None => {
                    let mut postings = Postings::default();
                    postings.push(doc, count);
                    self.postings.insert(feature.clone(), postings);
                }
            }
        }
    }

    /// Adds what each document scores for `query` (at most `cap` of its features, the rarest) to
    /// `scores`, weighted; returns what the query's own text scores (the same features, and
    /// those no document has).
    fn score(
        &self,
        query: &Features,
        weight: f64,
        cap: usize,
        scores: &mut HashMap<u32, f64>,
    ) -> f64 {
        let n = self.lengths.len() as f64;
        let average = (self.total_len / n).max(1.0);
        let term = |count: f64, len: f64| {
            count * (K1 + 1.0) / (count + K1 * (1.0 - B + B * len / average))
        };
        // The query's own count saturates like a document's: a word the title and the
        // description both use counts more, but not twice.
        let query_weight = |count: f64, df: f64| {
            weight * (1.0 + (n - df + 0.5) / (df + 0.5)).ln() * term(count, query.len)
        };
        let mut itself = 0.0;
        let mut known = Vec::new();
        for (feature, &count) in &query.counts {
            let count = count.min(MAX_COUNT);
            match self.postings.get(feature) {
                Some(postings) => known.push((feature, count, postings)),
                None => itself += query_weight(count, 0.0) * term(count, query.len),
            }
        }
        known.sort_unstable_by(|a, b| a.2.len.cmp(&b.2.len).then(a.0.cmp(b.0)));
        known.truncate(cap);
        for (_, count, postings) in known {
            let query_weight = query_weight(count, f64::from(postings.len));
            itself += query_weight * term(count, query.len);
            for (doc, count) in postings.iter() {
                // Every document has a length; a posting beyond them is a damaged snapshot's.
                let Some(&len) = self.lengths.get(doc as usize) else {
                    break;
                };
                *scores.entry(doc).or_default() += query_weight * term(count, f64::from(len));
            }
        }
        itself
    }
}

/// The document numbers of the ids in the index's document list: a hash table of `u32`s whose
/// keys are looked up in that list, so a document costs about 5 bytes here where a map from id
/// to number took 20 (and 300,000 of them 12 MiB). Not stored in a snapshot: it follows from
/// the list, and is made from it again on the first [`DocNumbers::insert`] after a load.
#[derive(Clone, Default)]
struct DocNumbers {
    table: hashbrown::HashTable<u32>,
    hasher: std::collections::hash_map::RandomState,
}

impl DocNumbers {
    /// Adds `doc`, the number `id` gets in `docs` (which it is not in yet, when this answers
    /// true); false if `docs` holds `id` already.
    fn insert(&mut self, docs: &[(InitiativeId, WijkCode)], id: InitiativeId, doc: u32) -> bool {
        use std::hash::BuildHasher as _;
        if self.table.len() != docs.len() {
            self.table = hashbrown::HashTable::with_capacity(docs.len() + 1);
            for (number, (known, _)) in (0u32..).zip(docs) {
                let hash = self.hasher.hash_one(known);
                self.table
                    .insert_unique(hash, number, |&n| self.hasher.hash_one(docs[n as usize].0));
            }
        }
        let hash = self.hasher.hash_one(id);
        let same = |&n: &u32| docs.get(n as usize).is_some_and(|(known, _)| *known == id);
        if self.table.find(hash, same).is_some() {
            return false;
        }
        let hasher = &self.hasher;
        self.table.insert_unique(hash, doc, |&n| {
            // `doc` is not in `docs` yet: it is the id being added.
            let key = docs.get(n as usize).map_or(id, |(known, _)| *known);
            hasher.hash_one(key)
        });
        true
    }
}

/// Compared through the document list it follows from.
impl PartialEq for DocNumbers {
    fn eq(&self, _: &DocNumbers) -> bool {
        true
    }
}

impl std::fmt::Debug for DocNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DocNumbers({} documents)", self.table.len())
    }
}

/// The inverted index of every submitted initiative's title and description.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimilarIndex {
    /// The position of the last event applied, like [`crate::CityState::position`].
    position: u64,
    /// By document number.
    docs: Vec<(InitiativeId, WijkCode)>,
    /// Which ids `docs` holds, to add each initiative once; made again from `docs` when
    /// needed (not stored in snapshots).
    #[serde(skip)]
    by_id: DocNumbers,
    words: Field,
    grams: Field,
    vocabulary: Vocabulary,
}

/// A hit: an initiative and how alike it is (see the module's "Ranking").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similar {
    pub id: InitiativeId,
    pub wijk: WijkCode,
    pub score: f64,
}

impl SimilarIndex {
    /// The revision of the index: raise it with every change to what it keeps (features,
    /// stemming, the vocabulary tables) so that a stored snapshot of an older index is not
    /// trusted.
    pub const REVISION: u64 = 3;

    pub fn new() -> SimilarIndex {
        SimilarIndex::default()
    }

    /// The position of the last event applied; 0 before the first.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Adds the initiative an `InitiativeSubmitted` event submits; every other event changes
    /// nothing here.
    pub fn apply(&mut self, recorded: &Recorded) {
        if self.position != 0 && recorded.position <= self.position {
            return;
        }
        self.position = recorded.position;
        if let DomainEvent::InitiativeSubmitted(e) = &recorded.event {
            let profile = Profile::of_with(&e.title, &e.description, &mut self.vocabulary);
            self.add(e.id, e.wijk, &profile);
        }
    }

    /// Adds one initiative; an id already in the index is left as it is.
    pub fn add(&mut self, id: InitiativeId, wijk: WijkCode, profile: &Profile) {
        let Ok(doc) = u32::try_from(self.docs.len()) else {
            return;
        };
        if !self.by_id.insert(&self.docs, id, doc) {
            return;
        }
        self.docs.push((id, wijk));
        self.words.add(doc, &profile.words);
        self.grams.add(doc, &profile.grams);
    }

    /// How many initiatives the index holds.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The initiatives most like `query`, best first, at most `first`, of those `keep` accepts
    /// (it is asked in order of score, only until `first` are found). Ties go to the initiative
    /// submitted first.
    pub fn similar(
        &self,
        query: &Profile,
        first: usize,
        mut keep: impl FnMut(&Similar) -> bool,
    ) -> Vec<Similar> {
        if first == 0 || self.docs.is_empty() || query.is_empty() {
            return Vec::new();
        }
        let mut scores = HashMap::new();
        let itself = self
            .words
            .score(&query.words, 1.0, MAX_QUERY_WORDS, &mut scores)
            + self
                .grams
                .score(&query.grams, GRAM_WEIGHT, MAX_QUERY_GRAMS, &mut scores);
        if itself <= 0.0 {
            return Vec::new();
        }
        let mut ranked: Vec<(u32, f64)> = scores
            .into_iter()
            .map(|(doc, score)| (doc, score / itself))
            .filter(|&(_, score)| score >= MIN_SCORE)
            .collect();
        ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .filter_map(|(doc, score)| {
                let &(id, wijk) = self.docs.get(doc as usize)?;
                Some(Similar { id, wijk, score })
            })
            .filter(|hit| keep(hit))
            .take(first)
            .collect()
    }
}

#[cfg(test)]
mod tests;

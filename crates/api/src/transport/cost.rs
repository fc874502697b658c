//! What a query will cost, estimated from the parsed document before anything else looks at it.
//!
//! async-graphql's own validation (and its depth and complexity limits) walks every fragment
//! spread afresh, so a 1 KB document of nested fragments (`fragment G1 on Wijk { ...G0 ...G0 }`,
//! twenty levels deep) costs seconds of CPU just to be refused. This walk is linear in the size
//! of the document: each fragment's cost is computed once and remembered, a fragment that spreads
//! itself is refused, and the sums saturate instead of growing. It runs first; async-graphql's
//! limits stay behind it as a second line.
//!
//! Besides the number of fields (fragments expanded), it estimates the size of the result the
//! way GitHub's node limit and Shopify's calculated cost do: fields multiplied by list sizes. A
//! field with a page argument (`first`, `last`, `limit`, `recent`) counts as that many items (its
//! default from the schema, or [`CostLimits::max_page_size`], when absent); another list field
//! counts as [`CostLimits::default_list_size`] items, except the `nodes`/`edges` lists right under
//! a paged field, whose size that page argument already gave. Which fields are lists comes from
//! the schema's SDL ([`SchemaShape`]); without it (an empty shape) only page arguments multiply.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Value};

/// Arguments that set how many items a field returns.
const PAGE_ARGUMENTS: [&str; 4] = ["first", "last", "limit", "recent"];

/// The caps a query is checked against before validation and execution.
#[derive(Clone, Debug)]
pub struct CostLimits {
    /// The longest query document, in bytes besides white space: parsing is linear but not cheap (250 KB take a
    /// few hundred milliseconds of a worker), so longer ones are refused unparsed.
    pub max_query_bytes: usize,
    /// Fields in the operation with every fragment spread expanded.
    pub max_fields: u64,
    /// The estimated number of values in the result (fields times list sizes).
    pub max_result_size: u64,
    /// Aliased fields in the operation, fragments expanded.
    pub max_aliases: u64,
    /// Fields at the root of the operation (the top-level response keys).
    pub max_root_fields: u64,
    /// Fragment spreads written in the document.
    pub max_fragment_spreads: u64,
    /// The size assumed for a list field without a page argument.
    pub default_list_size: u64,
    /// The size assumed for a page argument that is absent (and has no default) or a variable
    /// without a value.
    pub max_page_size: u64,
    /// The largest page size believed: larger values are refused by their field anyway.
    pub max_list_size: u64,
}

impl Default for CostLimits {
    fn default() -> Self {
        CostLimits {
            max_query_bytes: 32 * 1024,
            max_fields: 2_000,
            max_result_size: 200_000,
            max_aliases: 100,
            max_root_fields: 50,
            max_fragment_spreads: 200,
            default_list_size: 25,
            max_page_size: 100,
            max_list_size: 500,
        }
    }
}

/// A query refused for its estimated cost: the limit it is over, and the message for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub limit: crate::metrics::Limit,
    pub message: String,
}

fn refused(limit: crate::metrics::Limit, message: String) -> Refusal {
    Refusal { limit, message }
}

/// What the walk found: the cost of the operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Fields with fragments expanded.
    pub fields: u64,
    /// The estimated number of values in the result.
    pub result_size: u64,
    /// Aliased fields with fragments expanded.
    pub aliases: u64,
    /// Top-level response keys.
    pub root_fields: u64,
    /// Fragment spreads in the document.
    pub fragment_spreads: u64,
}

/// One field of an object or interface type, as far as cost goes.
#[derive(Clone, Debug)]
struct FieldShape {
    /// The named type inside any list and non-null wrappers.
    ty: String,
    list: bool,
    /// Whether the field declares a page argument, and that argument's default.
    page_default: Option<Option<u64>>,
}

/// Which fields of which types are lists, and their page arguments, read from a schema's SDL.
#[derive(Clone, Debug, Default)]
pub struct SchemaShape {
    types: HashMap<String, HashMap<String, FieldShape>>,
    roots: [Option<String>; 3],
}

impl SchemaShape {
    /// The shape of the schema printed as `sdl`; empty when it does not parse (the walk then
    /// only multiplies by page arguments).
    pub fn from_sdl(sdl: &str) -> SchemaShape {
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            tracing::warn!("the schema's SDL did not parse; query costs ignore list fields");
            return SchemaShape::default();
        };
        let mut shape = SchemaShape {
            types: HashMap::new(),
            roots: [
                Some("Query".to_owned()),
                Some("Mutation".to_owned()),
                Some("Subscription".to_owned()),
            ],
        };
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    for (slot, name) in [schema.query, schema.mutation, schema.subscription]
                        .into_iter()
                        .enumerate()
                    {
                        if let Some(name) = name {
                            shape.roots[slot] = Some(name.node.to_string());
                        }
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let fields = match ty.kind {
                        TypeKind::Object(object) => object.fields,
                        TypeKind::Interface(interface) => interface.fields,
                        _ => continue,
                    };
                    let fields = fields
                        .into_iter()
                        .map(|field| {
                            let field = field.node;
                            let page_default = field
                                .arguments
                                .iter()
                                .find(|argument| {
                                    PAGE_ARGUMENTS.contains(&argument.node.name.node.as_str())
                                })
                                .map(|argument| {
                                    argument
                                        .node
                                        .default_value
                                        .as_ref()
                                        .and_then(|value| number(&value.node))
                                });
                            let mut base = &field.ty.node.base;
                            let list = matches!(base, BaseType::List(_));
                            while let BaseType::List(inner) = base {
                                base = &inner.base;
                            }
                            let BaseType::Named(named) = base else {
                                unreachable!("a type is a list or named")
                            };
                            (
                                field.name.node.to_string(),
                                FieldShape {
                                    ty: named.to_string(),
                                    list,
                                    page_default,
                                },
                            )
                        })
                        .collect();
                    shape
                        .types
                        .entry(ty.name.node.to_string())
                        .or_default()
                        .extend::<HashMap<_, _>>(fields);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        shape
    }

    fn field(&self, ty: Option<&str>, name: &str) -> Option<&FieldShape> {
        self.types.get(ty?)?.get(name)
    }

    /// Whether the schema's root type of `operation` has a field `name`.
    pub fn is_root_field(&self, operation: OperationType, name: &str) -> bool {
        self.field(self.root(operation), name).is_some()
    }

    fn root(&self, operation: OperationType) -> Option<&str> {
        let slot = match operation {
            OperationType::Query => 0,
            OperationType::Mutation => 1,
            OperationType::Subscription => 2,
        };
        self.roots[slot].as_deref()
    }
}

/// Estimates `operation` of `document` and checks it against `limits`; the error is a message
/// for the client naming the limit.
pub fn check(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: &serde_json::Map<String, serde_json::Value>,
    shape: &SchemaShape,
    limits: &CostLimits,
) -> Result<Estimate, Refusal> {
    use crate::metrics::Limit;
    let spreads = count_spreads(document);
    if spreads > limits.max_fragment_spreads {
        return Err(refused(
            Limit::FragmentSpreads,
            format!(
                "The query has {spreads} fragment spreads, more than the limit of {}",
                limits.max_fragment_spreads
            ),
        ));
    }
    let mut walk = Walk {
        document,
        operation,
        variables,
        shape,
        limits,
        memo: HashMap::new(),
        in_progress: HashSet::new(),
    };
    // Every fragment, used or not, since validation looks at each of them.
    for name in document.fragments.keys() {
        let cost = walk
            .fragment(name.as_str(), false)
            .map_err(|message| refused(Limit::FragmentCycle, message))?;
        if cost.fields > limits.max_fields {
            return Err(refused(Limit::Fields, too_many_fields(cost.fields, limits)));
        }
    }
    let root = shape.root(operation.ty).map(str::to_owned);
    let cost = walk
        .selection_set(&operation.selection_set.node, root.as_deref(), false)
        .map_err(|message| refused(Limit::FragmentCycle, message))?;
    let estimate = Estimate {
        fields: cost.fields,
        result_size: cost.size,
        aliases: cost.aliases,
        root_fields: cost.top,
        fragment_spreads: spreads,
    };
    if estimate.fields > limits.max_fields {
        return Err(refused(
            Limit::Fields,
            too_many_fields(estimate.fields, limits),
        ));
    }
    if estimate.root_fields > limits.max_root_fields {
        return Err(refused(
            Limit::RootFields,
            format!(
                "The query asks for {} top-level fields, more than the limit of {}",
                estimate.root_fields, limits.max_root_fields
            ),
        ));
    }
    if estimate.aliases > limits.max_aliases {
        return Err(refused(
            Limit::Aliases,
            format!(
                "The query has {} aliases, more than the limit of {}",
                estimate.aliases, limits.max_aliases
            ),
        ));
    }
    if estimate.result_size > limits.max_result_size {
        return Err(refused(
            Limit::ResultSize,
            format!(
                "The query would return about {} values, more than the limit of {}; ask for \
                 smaller pages (first) or fewer fields",
                estimate.result_size, limits.max_result_size
            ),
        ));
    }
    Ok(estimate)
}

fn too_many_fields(fields: u64, limits: &CostLimits) -> String {
    format!(
        "The query has {} fields with its fragments expanded, more than the limit of {}",
        if fields == u64::MAX {
            "too many".to_owned()
        } else {
            fields.to_string()
        },
        limits.max_fields
    )
}

fn count_spreads(document: &ExecutableDocument) -> u64 {
    fn in_set(set: &SelectionSet) -> u64 {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => in_set(&field.node.selection_set.node),
                Selection::FragmentSpread(_) => 1,
                Selection::InlineFragment(inline) => in_set(&inline.node.selection_set.node),
            })
            .fold(0, u64::saturating_add)
    }
    let operations = document
        .operations
        .iter()
        .map(|(_, operation)| in_set(&operation.node.selection_set.node));
    let fragments = document
        .fragments
        .values()
        .map(|fragment| in_set(&fragment.node.selection_set.node));
    operations.chain(fragments).fold(0, u64::saturating_add)
}

/// The cost of a selection set, per object it is selected on.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    fields: u64,
    size: u64,
    aliases: u64,
    /// Fields at this level (through fragments too): response keys.
    top: u64,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.fields = self.fields.saturating_add(other.fields);
        self.size = self.size.saturating_add(other.size);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.top = self.top.saturating_add(other.top);
    }
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    variables: &'a serde_json::Map<String, serde_json::Value>,
    shape: &'a SchemaShape,
    limits: &'a CostLimits,
    /// Fragment costs by name and by whether they are spread right under a paged field.
    memo: HashMap<(&'a str, bool), Cost>,
    in_progress: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        ty: Option<&str>,
        under_page: bool,
    ) -> Result<Cost, String> {
        let mut cost = Cost::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => cost.add(self.field(&field.node, ty, under_page)?),
                Selection::FragmentSpread(spread) => {
                    cost.add(self.fragment(spread.node.fragment_name.node.as_str(), under_page)?)
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let ty = inline
                        .type_condition
                        .as_ref()
                        .map(|condition| condition.node.on.node.as_str())
                        .or(ty);
                    cost.add(self.selection_set(&inline.selection_set.node, ty, under_page)?);
                }
            }
        }
        Ok(cost)
    }

    fn field(
        &mut self,
        field: &'a Field,
        ty: Option<&str>,
        under_page: bool,
    ) -> Result<Cost, String> {
        let shape = self.shape.field(ty, field.name.node.as_str());
        let (items, paged) = self.items(field, shape, under_page);
        let child_type = shape.map(|shape| shape.ty.clone());
        let child = self.selection_set(
            &field.selection_set.node,
            child_type.as_deref(),
            paged && !shape.is_some_and(|shape| shape.list),
        )?;
        Ok(Cost {
            fields: child.fields.saturating_add(1),
            size: items.saturating_mul(child.size.saturating_add(1)),
            aliases: child
                .aliases
                .saturating_add(u64::from(field.alias.is_some())),
            top: 1,
        })
    }

    /// How many items the field stands for, and whether a page argument said so.
    fn items(&self, field: &Field, shape: Option<&FieldShape>, under_page: bool) -> (u64, bool) {
        if let Some((_, value)) = field
            .arguments
            .iter()
            .find(|(name, _)| PAGE_ARGUMENTS.contains(&name.node.as_str()))
        {
            // A literal, or a variable (the parser's value type is not reachable by name here).
            let size = value
                .node
                .clone()
                .into_const_with(|name| {
                    self.variable(&name)
                        .map(|size| Value::Number(size.into()))
                        .ok_or(())
                })
                .ok()
                .and_then(|value| number(&value));
            let size = size.unwrap_or(self.limits.max_page_size);
            return (size.min(self.limits.max_list_size), true);
        }
        match shape {
            Some(FieldShape {
                page_default: Some(default),
                ..
            }) => (
                default
                    .unwrap_or(self.limits.max_page_size)
                    .min(self.limits.max_list_size),
                true,
            ),
            Some(FieldShape { list: true, .. }) if under_page => (1, false),
            Some(FieldShape { list: true, .. }) => (self.limits.default_list_size, false),
            _ => (1, false),
        }
    }

    /// The value of a variable used as a page size: given, or its default.
    fn variable(&self, name: &Name) -> Option<u64> {
        match self.variables.get(name.as_str()) {
            Some(serde_json::Value::Number(number)) => Some(number.as_u64().unwrap_or(0)),
            Some(_) => None,
            None => self
                .operation
                .variable_definitions
                .iter()
                .find(|definition| definition.node.name.node == *name)
                .and_then(|definition| definition.node.default_value.as_ref())
                .and_then(|value| number(&value.node)),
        }
    }

    /// A fragment's cost, computed once per name (and per `under_page`).
    fn fragment(&mut self, name: &'a str, under_page: bool) -> Result<Cost, String> {
        if let Some(cost) = self.memo.get(&(name, under_page)) {
            return Ok(*cost);
        }
        let Some((name, fragment)) = self.document.fragments.get_key_value(name) else {
            // Unknown fragments are validation's to report.
            return Ok(Cost::default());
        };
        let name = name.as_str();
        if !self.in_progress.insert(name) {
            return Err(format!("The fragment \"{name}\" spreads itself"));
        }
        let fragment = &fragment.node;
        let cost = self.selection_set(
            &fragment.selection_set.node,
            Some(fragment.type_condition.node.on.node.as_str()),
            under_page,
        );
        self.in_progress.remove(name);
        let cost = cost?;
        self.memo.insert((name, under_page), cost);
        Ok(cost)
    }
}

/// A non-negative number as a size (negative ones as 0); None for anything else.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => Some(number.as_u64().unwrap_or(0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::types::DocumentOperations;

    const SDL: &str = r#"
        type Query {
            wijken: [Wijk!]!
            wijk(code: ID!): Wijk
            initiatives(first: Int, after: String): InitiativeConnection!
            events(first: Int! = 100): [Event!]!
        }
        type Wijk { code: ID! name: String! lines: [Line!]! initiatives(first: Int): InitiativeConnection! }
        type Line { theme: String! amount: String! }
        type InitiativeConnection { nodes: [Initiative!]! edges: [Edge!]! totalCount: Int! }
        type Edge { cursor: String! node: Initiative! }
        type Initiative { id: ID! title: String! history: [Entry!]! }
        type Entry { summary: String! }
        type Event { position: String! }
    "#;

    fn cost_of(query: &str, variables: serde_json::Value) -> Result<Estimate, String> {
        estimate_with(query, variables, &CostLimits::default())
    }

    fn estimate_with(
        query: &str,
        variables: serde_json::Value,
        limits: &CostLimits,
    ) -> Result<Estimate, String> {
        checked(query, variables, limits).map_err(|refusal| refusal.message)
    }

    fn checked(
        query: &str,
        variables: serde_json::Value,
        limits: &CostLimits,
    ) -> Result<Estimate, Refusal> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let operation = match &document.operations {
            DocumentOperations::Single(operation) => operation.node.clone(),
            DocumentOperations::Multiple(operations) => {
                operations.values().next().unwrap().node.clone()
            }
        };
        let serde_json::Value::Object(variables) = variables else {
            panic!("variables must be an object")
        };
        let shape = SchemaShape::from_sdl(SDL);
        check(&document, &operation, &variables, &shape, limits)
    }

    #[test]
    fn each_refusal_names_its_limit() {
        use crate::metrics::Limit;
        let limits = CostLimits::default();
        let refused = |query: &str, limits: &CostLimits| {
            checked(query, serde_json::json!({}), limits)
                .unwrap_err()
                .limit
        };
        let spreads: String = (0..201).map(|_| " ...F").collect();
        let spreads =
            format!("fragment F on Wijk {{ code }} {{ wijk(code: \"x\") {{ {spreads} }} }}");
        assert_eq!(refused(&spreads, &limits), Limit::FragmentSpreads);
        let cycle = "fragment A on Wijk { ...A } { wijken { code } }";
        assert_eq!(refused(cycle, &limits), Limit::FragmentCycle);
        assert_eq!(refused(&fragment_bomb(20), &limits), Limit::Fields);
        let roots: String = (0..51)
            .map(|n| format!(" w{n}: wijken {{ code }}"))
            .collect();
        assert_eq!(
            refused(&format!("{{{roots} }}"), &limits),
            Limit::RootFields
        );
        let aliases: String = (0..101).map(|n| format!(" a{n}: code")).collect();
        let aliases = format!("{{ wijken {{{aliases} }} }}");
        assert_eq!(refused(&aliases, &limits), Limit::Aliases);
        let large = "{ initiatives(first: 500) { nodes { title history { summary } } } }";
        let small = CostLimits {
            max_result_size: 1_000,
            ..CostLimits::default()
        };
        assert_eq!(refused(large, &small), Limit::ResultSize);
    }

    fn fragment_bomb(levels: usize) -> String {
        let mut query = String::from("fragment G0 on Wijk { code name }\n");
        for level in 1..=levels {
            let below = level - 1;
            query.push_str(&format!(
                "fragment G{level} on Wijk {{ ...G{below} ...G{below} }}\n"
            ));
        }
        query.push_str(&format!(
            "query {{ wijk(code: \"WK1\") {{ ...G{levels} }} }}"
        ));
        query
    }

    #[test]
    fn counts_fields_and_lists_from_the_schema() {
        let estimate = cost_of(
            "{ wijken { code name lines { theme amount } } }",
            serde_json::json!({}),
        )
        .unwrap();
        assert_eq!(estimate.fields, 6);
        assert_eq!(estimate.root_fields, 1);
        // 25 wijken, each itself, code, name and 25 lines of itself and two values.
        assert_eq!(estimate.result_size, 25 * (1 + 2 + 25 * 3));
    }

    #[test]
    fn page_arguments_multiply_and_nodes_are_not_counted_twice() {
        let estimate = cost_of(
            "{ initiatives(first: 100) { totalCount nodes { id history { summary } } } }",
            serde_json::json!({}),
        )
        .unwrap();
        // 100 pages' worth of: the connection, totalCount, nodes (one list, sized by first)
        // of id and 25 history entries.
        let nodes = 1 + (1 + 25 * 2);
        assert_eq!(estimate.result_size, 100 * (1 + 1 + nodes));
        // The default of a declared page argument, and a variable's value.
        let defaulted = cost_of("{ events { position } }", serde_json::json!({})).unwrap();
        assert_eq!(defaulted.result_size, 100 * 2);
        let variable = cost_of(
            "query($n: Int) { initiatives(first: $n) { totalCount } }",
            serde_json::json!({ "n": 3 }),
        )
        .unwrap();
        assert_eq!(variable.result_size, 3 * 2);
        let absent = cost_of(
            "query($n: Int) { initiatives(first: $n) { totalCount } }",
            serde_json::json!({}),
        )
        .unwrap();
        assert_eq!(absent.result_size, 100 * 2);
        let huge = cost_of(
            "{ initiatives(first: 1000000) { totalCount } }",
            serde_json::json!({}),
        )
        .unwrap();
        assert_eq!(huge.result_size, 500 * 2, "page sizes are clamped");
    }

    #[test]
    fn an_alias_flood_is_refused() {
        let mut query = String::from("{");
        for alias in 0..3_300 {
            query.push_str(&format!(
                " a{alias}: initiatives(first: 100) {{ nodes {{ title history {{ summary }} }} }}"
            ));
        }
        query.push('}');
        let error = cost_of(&query, serde_json::json!({})).unwrap_err();
        assert!(error.contains("fields"), "{error}");
        // With room for the fields, the estimated size is what refuses it.
        let limits = CostLimits {
            max_fields: u64::MAX,
            max_root_fields: u64::MAX,
            max_aliases: u64::MAX,
            ..CostLimits::default()
        };
        let error = estimate_with(&query, serde_json::json!({}), &limits).unwrap_err();
        assert!(error.contains("would return about"), "{error}");
        // Forty of them are within every limit but the aliases'.
        let limits = CostLimits {
            max_aliases: 10,
            ..CostLimits::default()
        };
        let forty: String = (0..40)
            .map(|alias| format!(" a{alias}: wijk(code: \"WK1\") {{ code }}"))
            .collect();
        let error =
            estimate_with(&format!("{{{forty} }}"), serde_json::json!({}), &limits).unwrap_err();
        assert!(error.contains("40 aliases"), "{error}");
    }

    #[test]
    fn fragments_are_expanded_once_each() {
        // Five levels: 2^5 spreads of G0's two fields, plus the wijk field.
        let estimate = cost_of(&fragment_bomb(5), serde_json::json!({})).unwrap();
        assert_eq!(estimate.fields, 1 + 2 * 32);
        // Sixty levels would be 2^61 fields: the sums saturate and it is refused at once.
        let started = std::time::Instant::now();
        let error = estimate_with(
            &fragment_bomb(60),
            serde_json::json!({}),
            &CostLimits::default(),
        )
        .unwrap_err();
        assert!(
            error.contains("fields with its fragments expanded"),
            "{error}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn fragment_cycles_are_refused() {
        let error = cost_of(
            "fragment A on Wijk { code ...B } fragment B on Wijk { name ...A } { wijk(code: \"x\") { ...A } }",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(error.contains("spreads itself"), "{error}");
        // Even when the operation does not use it.
        let error = cost_of(
            "fragment A on Wijk { ...A } { wijken { code } }",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(error.contains("\"A\" spreads itself"), "{error}");
    }

    #[test]
    fn fragment_spreads_and_root_fields_are_capped() {
        let spreads: String = (0..201).map(|_| " ...F").collect();
        let error = cost_of(
            &format!("fragment F on Wijk {{ code }} {{ wijk(code: \"x\") {{ {spreads} }} }}"),
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(error.contains("201 fragment spreads"), "{error}");
        let roots: String = (0..51)
            .map(|n| format!(" w{n}: wijken {{ code }}"))
            .collect();
        let limits = CostLimits {
            max_aliases: u64::MAX,
            ..CostLimits::default()
        };
        let error =
            estimate_with(&format!("{{{roots} }}"), serde_json::json!({}), &limits).unwrap_err();
        assert!(error.contains("51 top-level fields"), "{error}");
    }

    #[test]
    fn without_a_schema_only_page_arguments_multiply() {
        let document = async_graphql::parser::parse_query(
            "{ wijken { code } initiatives(first: 7) { nodes { id } } }",
        )
        .unwrap();
        let DocumentOperations::Single(operation) = &document.operations else {
            unreachable!()
        };
        let estimate = check(
            &document,
            &operation.node,
            &serde_json::Map::new(),
            &SchemaShape::default(),
            &CostLimits::default(),
        )
        .unwrap();
        assert_eq!(estimate.result_size, 2 + 7 * (1 + 2));
    }
}

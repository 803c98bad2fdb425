"""What one GraphQL document may ask for: depth, aliases, directives and cost, checked while validating it.

The limits are validation rules built once per configuration (`limit_rules` is cached), so the rule
classes are the same objects on every request and the validation cache (`CachedValidation`) keeps
hitting; the cache key holds the rule classes, and Strawberry's own `QueryDepthLimiter` and `MaxAliasesLimiter`
make a new class per request. Another reason to measure here: their walks expand fragments without
memory, so a small document that spreads fragments inside fragments costs them exponential time. This
walk remembers each fragment's measure and stays linear in the document.

Every limit counts the operation as executed, i.e. with its fragments expanded:

- depth: fields on the longest path from the root, leaves included (`{ a { b } }` is 2);
- aliases: aliased fields;
- directives: directives on the operation, its variables, fields, fragments and spreads;
- cost: the estimated number of objects in the answer, see below.

Cost model (an estimate of objects returned, GitHub's "nodes" idea):

- Every object the answer can hold costs 1: each field whose type is an object type, once per
  instance. Scalars and enums cost nothing: they arrive with their object. Mutation fields cost
  `MUTATION_COST` each, because each writes to MongoDB and queues calendar work through Cronofy.
- A list multiplies the cost of everything below it by its expected length:
  - the lists directly under a field that takes `first` (a connection's `edges`) are as long as
    `first`: a literal counts as written (clamped to 0..`MAX_PAGE`, the resolver refuses the rest
    with a readable error); a variable counts as `MAX_PAGE`, since validation runs (and is cached)
    before variables are known; an omitted `first` counts as its default (20 for `meetings`);
  - lists with a known bound count as that bound (`Meeting.participants`: `MAX_PARTICIPANTS`);
  - a field taking `ids` (`nodes`) is as long as its literal list (at most `MAX_NODES`), or `MAX_NODES`
    for a variable;
  - any other list counts as `DEFAULT_LIST_LENGTH`.

So `meetings(first: 1) { edges { node { participants { email } } } }` costs 1 + 1 x (1 + 1 + 50) = 53
and the same with `first: 100` costs 5,201.

Introspection (`__schema`, `__type`) is answered from the schema in memory; its subtrees count for
aliases and directives but not for depth or cost (GraphiQL's introspection query is 13 levels deep
through `ofType` chains that cost nothing). What makes introspection explode is nesting a type's
lists in each other (`fields { type { fields { type { fields ... } } } }`); graphql-core's own
MaxIntrospectionDepthRule, one of the rules every document is validated against, refuses more
than 3 such levels, and the token limit bounds the rest.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, NamedTuple

from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

from ..domain.validation import MAX_PARTICIPANTS
from ..services.meetings import MAX_PAGE

if TYPE_CHECKING:
    from ..settings import Settings

PAGE_ARGUMENTS = ("first", "last")
MAX_NODES = 100  # ids one `nodes(ids:)` looks up (resolvers/nodes.py)
DEFAULT_LIST_LENGTH = 10
LIST_LENGTHS = {("Meeting", "participants"): MAX_PARTICIPANTS}
MUTATION_COST = 10
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclasses.dataclass(frozen=True)
class GraphQLLimits:
    """Defaults fit the contract's own operations with room to spare: the deepest, a page of meetings
    down to each participant's calendar event, is 6 fields deep and, with a full page of 100 meetings,
    costs 10,302; the mutations cost about 120; GraphiQL's introspection query has 183 tokens."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 20
    max_cost: int = 20_000
    max_mutations: int = 5  # root mutation fields per request: each one writes and may call Cronofy

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphQLLimits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            max_directives=settings.graphql_max_directives,
            max_cost=settings.graphql_max_cost,
            max_mutations=settings.graphql_max_mutations,
        )


class Measure(NamedTuple):
    depth: int = 0
    aliases: int = 0
    directives: int = 0
    cost: int = 0
    mutations: int = 0

    def __add__(self, other: Measure) -> Measure:  # type: ignore[override]
        """Siblings: the deeper one counts for depth; the rest add up."""
        return Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.directives + other.directives,
            self.cost + other.cost,
            self.mutations + other.mutations,
        )


NOTHING = Measure()


class _Measurer:
    """Measures operations of one document; each fragment is measured once per page size and mode."""

    def __init__(self, schema: Any, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.memo: dict[tuple[str, int | None, bool], Measure] = {}
        self.expanding: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        root = self.schema.get_root_type(operation.operation)
        measured = self.selections(operation.selection_set, root, None, False)
        variables = operation.variable_definitions or ()
        own = len(operation.directives or ()) + sum(len(variable.directives or ()) for variable in variables)
        return measured._replace(directives=measured.directives + own)

    def selections(
        self, selection_set: SelectionSetNode | None, parent: Any, page: int | None, introspection: bool
    ) -> Measure:
        total = NOTHING
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page, introspection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner_type = self.schema.get_type(condition.name.value) if condition else parent
                inner = self.selections(selection.selection_set, inner_type, page, introspection)
                total += inner._replace(directives=inner.directives + len(selection.directives or ()))
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.spread(selection.name.value, page, introspection)
                total += inner._replace(directives=inner.directives + len(selection.directives or ()))
        return total

    def spread(self, name: str, page: int | None, introspection: bool) -> Measure:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.expanding:
            return NOTHING  # unknown fragments and cycles are reported by graphql-core's own rules
        key = (name, page, introspection)
        if key not in self.memo:
            self.expanding.add(name)
            try:
                fragment_type = self.schema.get_type(fragment.type_condition.name.value)
                inner = self.selections(fragment.selection_set, fragment_type, page, introspection)
            finally:
                self.expanding.discard(name)
            self.memo[key] = inner._replace(directives=inner.directives + len(fragment.directives or ()))
        return self.memo[key]

    def field(self, node: FieldNode, parent: Any, page: int | None, introspection: bool) -> Measure:
        name = node.name.value
        own = Measure(aliases=1 if node.alias else 0, directives=len(node.directives or ()))
        if introspection or name in INTROSPECTION_ROOTS:
            inner = self.selections(node.selection_set, None, None, True)
            return own + inner._replace(depth=0 if introspection else 1, cost=0)  # `__schema` itself is a level

        definition = parent.fields.get(name) if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) else None
        if definition is None or is_leaf_type(get_named_type(definition.type)):
            # A leaf, __typename, or a field graphql-core will refuse anyway: no cost of its own.
            inner = self.selections(node.selection_set, None, None, False)
            return own + inner._replace(depth=1 + inner.depth, cost=0)

        length = 1
        if is_list_type(get_nullable_type(definition.type)):
            known = page if page is not None else _ids_count(node, definition)
            length = known if known is not None else LIST_LENGTHS.get((parent.name, name), DEFAULT_LIST_LENGTH)
        mutation = parent is self.schema.get_root_type(OperationType.MUTATION)
        weight = MUTATION_COST if mutation else 1
        inner = self.selections(
            node.selection_set, get_named_type(definition.type), _page_size(node, definition), False
        )
        measured = inner._replace(depth=1 + inner.depth, cost=length * (weight + inner.cost))
        return own + measured._replace(mutations=measured.mutations + (1 if mutation else 0))


def _page_size(node: FieldNode, definition: Any) -> int | None:
    """How long the lists right under this field are, when it takes `first`/`last`; else None."""
    names = [name for name in PAGE_ARGUMENTS if name in definition.args]
    if not names:
        return None
    given = {argument.name.value: argument.value for argument in node.arguments or ()}
    for name in names:
        value = given.get(name)
        if value is None or isinstance(value, NullValueNode):
            continue
        if isinstance(value, IntValueNode):
            return min(max(int(value.value), 0), MAX_PAGE)
        return MAX_PAGE  # a variable: unknown until execution
    default = definition.args[names[0]].default_value
    return min(max(default, 0), MAX_PAGE) if isinstance(default, int) and not isinstance(default, bool) else MAX_PAGE


def _ids_count(node: FieldNode, definition: Any) -> int | None:
    """How many objects a field taking `ids` answers; None for other fields."""
    if "ids" not in definition.args:
        return None
    value = next((argument.value for argument in node.arguments or () if argument.name.value == "ids"), None)
    if isinstance(value, ListValueNode):
        return min(len(value.values), MAX_NODES)
    return 1 if isinstance(value, StringValueNode) else MAX_NODES  # one id coerces to a list of one


def measure_operations(schema: Any, document: DocumentNode) -> dict[OperationDefinitionNode, Measure]:
    measurer = _Measurer(schema, document)
    return {d: measurer.operation(d) for d in document.definitions if isinstance(d, OperationDefinitionNode)}


def _limit_error(message: str, node: OperationDefinitionNode, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code, **extensions})


@functools.cache
def limits_rule(limits: GraphQLLimits) -> type[ValidationRule]:
    """One validation rule class per configuration, built once (see the module docstring)."""

    class GraphQLLimitsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> Any:
            for operation, measured in measure_operations(self.context.schema, node).items():
                name = f"'{operation.name.value}'" if operation.name else "The operation"
                if measured.depth > limits.max_depth:
                    self.report_error(
                        _limit_error(
                            f"{name} is {measured.depth} fields deep; at most {limits.max_depth} are allowed.",
                            operation,
                            "MAX_DEPTH_EXCEEDED",
                            depth=measured.depth,
                            maxDepth=limits.max_depth,
                        )
                    )
                if measured.aliases > limits.max_aliases:
                    self.report_error(
                        _limit_error(
                            f"{name} uses {measured.aliases} aliases; at most {limits.max_aliases} are allowed.",
                            operation,
                            "MAX_ALIASES_EXCEEDED",
                            aliases=measured.aliases,
                            maxAliases=limits.max_aliases,
                        )
                    )
                if measured.directives > limits.max_directives:
                    self.report_error(
                        _limit_error(
                            f"{name} uses {measured.directives} directives; "
                            f"at most {limits.max_directives} are allowed.",
                            operation,
                            "MAX_DIRECTIVES_EXCEEDED",
                            directives=measured.directives,
                            maxDirectives=limits.max_directives,
                        )
                    )
                if measured.cost > limits.max_cost:
                    self.report_error(
                        _limit_error(
                            f"{name} may return about {measured.cost} objects; at most {limits.max_cost} are allowed. "
                            "Ask for smaller pages (`first`) or fewer nested lists.",
                            operation,
                            "MAX_COST_EXCEEDED",
                            cost=measured.cost,
                            maxCost=limits.max_cost,
                        )
                    )
                if measured.mutations > limits.max_mutations:
                    self.report_error(
                        _limit_error(
                            f"{name} makes {measured.mutations} changes; at most {limits.max_mutations} are allowed "
                            "in one request.",
                            operation,
                            "MAX_MUTATIONS_EXCEEDED",
                            mutations=measured.mutations,
                            maxMutations=limits.max_mutations,
                        )
                    )
            return BREAK

    return GraphQLLimitsRule


@functools.cache
def limit_rules(limits: GraphQLLimits, introspection: bool = True) -> tuple[type[ValidationRule], ...]:
    """The validation rules this configuration adds, the same tuple of the same classes every call."""
    rules: tuple[type[ValidationRule], ...] = (limits_rule(limits),)
    return rules if introspection else (*rules, NoSchemaIntrospectionCustomRule)

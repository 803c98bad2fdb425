"""Everything that speaks GraphQL: the schema (`schema.py`, the only importer of `resolvers`), its
types, scalars, ids and cursors, limits, extensions, the context, the view, and `errors.py`, the one
place where domain errors become `UserError`s. Nothing below this package imports Strawberry."""

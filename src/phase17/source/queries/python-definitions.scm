; Definitions phase17 can find by name. Capture names carry the kind; the scope (class, function,
; module) is worked out from the tree around each match, since a query cannot express "at any depth
; of if/try/with blocks but not inside a function body".

(class_definition
  name: (identifier) @name.definition.class) @definition.class

(function_definition
  name: (identifier) @name.definition.function) @definition.function

; `X = ...`, `X: T = ...`, `X: T`, each target of `A = B = ...`, and every name bound by an unpacking
; target (`A, *B = ...`, `[P, Q] = ...`, `(X, (Y, Z)) = ...`): the names are read from the `left` side.
(assignment
  left: (_) @name.definition.assignment) @definition.assignment

; `type Alias = ...` (Python 3.12).
(type_alias_statement
  left: (type (identifier) @name.definition.type_alias)) @definition.type_alias

; Definitions phase17 can find by name. Capture names carry the kind; the scope (class, function,
; module) is worked out from the tree around each match, since a query cannot express "at any depth
; of if/try/with blocks but not inside a function body".

(class_definition
  name: (identifier) @name.definition.class) @definition.class

(function_definition
  name: (identifier) @name.definition.function) @definition.function

; `X = ...`, `X: T = ...`, `X: T` and each target of `A = B = ...`.
(assignment
  left: (identifier) @name.definition.assignment) @definition.assignment

; Each name of `A, B = ...` and `(A, B) = ...`.
(assignment
  left: (pattern_list (identifier) @name.definition.assignment)) @definition.assignment
(assignment
  left: (tuple_pattern (identifier) @name.definition.assignment)) @definition.assignment

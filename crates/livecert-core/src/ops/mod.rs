//! Typed inputs of each operation: parameters become checked types before a handler sees them.

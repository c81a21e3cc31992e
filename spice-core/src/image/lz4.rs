//! Placeholder: being written (see issue tracker).

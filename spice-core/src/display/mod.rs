//! Placeholder: display channel, being written.

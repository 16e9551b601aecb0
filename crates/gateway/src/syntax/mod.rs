//! The small languages written inside config values: `{param}` templates (HTTP and command
//! tools) and SQL `:name` placeholders. Pure text: the config checks them, the sources render
//! or bind them; nothing here knows either.

pub(crate) mod like;
pub(crate) mod placeholders;
pub(crate) mod template;

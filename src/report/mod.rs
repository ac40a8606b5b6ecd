//! Renderers from reports to bytes. Renderers never print; they write to a writer.

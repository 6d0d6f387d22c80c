"""Reference LLM agents (litellm), the evaluation runner, and trace collection/export."""

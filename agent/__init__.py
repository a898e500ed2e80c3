"""The answer pipeline: cited evidence or a refusal, never an unsupported sentence."""

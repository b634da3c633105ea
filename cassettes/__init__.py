"""Built-in scenario cassettes, recorded from the veo3 emulator (see README: Testing)."""

"""Assignment packs: everything the engine needs to grade one assignment, loaded by name."""

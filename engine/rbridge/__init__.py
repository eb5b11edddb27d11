"""rBridge proxy evaluation (METHODS 2 and 5), pure computation: trace formats, letter
probabilities, token weights, scores. No torch, no SQL: models run in `engine.ops`."""

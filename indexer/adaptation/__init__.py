"""Teaching legajo a new hand: the home's models, fine-tuning on verified lines, reading again."""

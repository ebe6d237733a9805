"""Training and fine-tuning of recognition models: settings, data, the loop, the model card."""

"""Search keys of diplomatic text: tokens, abbreviations, spelling variants, normalisation."""

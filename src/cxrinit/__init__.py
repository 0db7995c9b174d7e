"""cxrinit: which initialization makes the best chest-radiograph ViT — the study, end to end."""

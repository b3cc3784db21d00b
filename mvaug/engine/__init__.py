"""What every training and inference stage shares, below all of them: the device, seeding and batch
order, the run folder, its log, and data-parallel set-up. It imports no stage."""

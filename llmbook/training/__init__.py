"""Training: the objective, backpropagation, the optimizer, the schedule, checkpoints and the loop."""

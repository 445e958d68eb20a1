"""One trainer for every run: loop, schedule, evaluation, checkpoint/resume."""

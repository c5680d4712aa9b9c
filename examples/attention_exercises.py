"""Widget data for the exercises of "Attention by hand": answers, tolerances, hints, solutions."""

from tools.by_hand import exercises
from tools.export import write_json

path = write_json("attention/exercises.json", {"exercises": exercises()})
print(f"wrote {path.name}: {len(exercises())} exercises")

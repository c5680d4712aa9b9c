"""Widget data for the checked exercises of every chapter: answers, tolerances, hints, solutions."""

from tools.exercises import CHAPTERS
from tools.export import write_json

for chapter, make in CHAPTERS.items():
    exercises = make()
    path = write_json(f"exercises/{chapter}.json", {"exercises": exercises})
    print(f"{chapter:>12}: {len(exercises)} exercises, " + ", ".join(f"{e['id']} = {e['answer']:.4g}" for e in exercises))

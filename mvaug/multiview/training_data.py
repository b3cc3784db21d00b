"""The training data of a built-in model, rebuilt from the recipe on its card (``mvaug models data NAME OUT``).

The synthetic data sets are deterministic (equal settings give byte-identical sets), so a card that records
its generator's settings (``data.synth``) is enough to make again the images a model learned from. The
``retrieved-K`` baseline of ``mvaug evaluate --retrieve-from`` needs the disentangler's training images.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from mvaug.errors import DataError

GENERATORS = ("synth-chairs", "synth-faces")


def synth_recipe(generator: str, config) -> dict:
    """A card's ``data.synth``: the generator (``mvaug data GENERATOR``) and every field of its config dataclass."""
    if generator not in GENERATORS:
        raise ValueError(f"unknown data generator {generator!r}; choose from {', '.join(GENERATORS)}")
    return {"generator": generator, "config": dataclasses.asdict(config)}


def rebuild_training_data(name: str, out: str | os.PathLike, workers: int = 2, progress: bool = True, assets: Path | None = None) -> Path:
    """Synthesise the training data of the built-in model ``name`` into ``out`` from its card's recipe; a complete
    set there is kept, an interrupted one resumed (as ``mvaug data synth-chairs``/``synth-faces`` do)."""
    from mvaug.io.assets import card_path, read_card

    recipe = (read_card(name, assets).get("data") or {}).get("synth")
    if not isinstance(recipe, dict) or recipe.get("generator") not in GENERATORS or not isinstance(recipe.get("config"), dict):
        raise DataError(f"the card of {name} records no data recipe (data.synth with a generator of {', '.join(GENERATORS)}): its training data cannot be rebuilt",
                        card_path(name, assets))
    if recipe["generator"] == "synth-chairs":
        from mvaug.data.synth.writer import SynthChairsConfig as Config, synthesize_chairs as synthesize
    else:
        from mvaug.faces.synth import SynthFacesConfig as Config, synthesize_faces as synthesize
    fields = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(recipe["config"]) - fields)
    if unknown:
        raise DataError(f"the data recipe of {name} has keys this mvaug does not know: {', '.join(unknown)}", card_path(name, assets))
    try:
        config = Config(**{key: tuple(value) if isinstance(value, list) else value for key, value in recipe["config"].items()})
    except (TypeError, ValueError) as err:
        raise DataError(f"the data recipe of {name} is not valid: {err}", card_path(name, assets)) from None
    synthesize(Path(out), config, workers=workers, progress=progress)
    return Path(out)

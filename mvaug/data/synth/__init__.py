"""Built-in synthetic chair data: procedural chair meshes (``chair_models``) and the data set writer."""

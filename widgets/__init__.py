"""ReviewOps operator forms (ipywidgets), served by ``reviewops serve`` through Voila."""

"""Configs: every field documents itself."""


def test_every_field_has_its_help():
    """The CLI help lives beside each field (dataclass metadata), not in separate tables."""
    import dataclasses

    from panet_min.config import EvalConfig, TrainConfig

    for cls in (TrainConfig, EvalConfig):
        missing = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("help")]
        assert not missing, f"{cls.__name__} fields without help: {missing}"

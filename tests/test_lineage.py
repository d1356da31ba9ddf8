"""Version lineage in the registry: versions, aliases, comments and checkpoints, seen by alice and bob."""

from __future__ import annotations

import numpy as np
import pytest

from fmc_jupyter.errors import InputError, NotFoundError, PermissionDeniedError

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Three small Keras files with different weights (a line's versions / checkpoints)."""
    folder = tmp_path_factory.mktemp("lineage-models")
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(x), name="small")
    paths = []
    for i in range(3):
        model.get_layer("head").set_weights([w + i for w in model.get_layer("head").get_weights()])
        path = folder / f"small_{i}.keras"
        model.save(path)
        paths.append(path)
    return paths


@pytest.fixture
def line(tmp_registry, model_files):
    reg = tmp_registry
    v1 = reg.add_model(model_files[0], name="small")
    v2 = reg.add_model(model_files[1], parent=v1)
    return reg, v1, v2


def test_aliases_resolve_move_and_list(line):
    reg, v1, v2 = line
    reg.set_alias(v1, "production")
    assert reg.model("small@production").id == v1.id
    reg.set_alias(v2, "candidate")
    reg.set_alias(v2, "production")  # move
    assert reg.model("small@production").id == v2.id
    table = reg.aliases("small")
    assert list(table["alias"]) == ["candidate", "production"] and set(table["version"]) == {2}
    assert reg.versions("small").set_index("version").loc[2, "aliases"] == "candidate,production"
    reg.remove_alias("small", "candidate")
    with pytest.raises(NotFoundError):
        reg.model("small@candidate")
    with pytest.raises(InputError, match="alias"):
        reg.set_alias(v1, "1st place")
    with pytest.raises(PermissionDeniedError, match="Catalog"):
        reg.set_alias("MobileNet_0.25_224", "production")


def test_aliases_between_two_users(line, bob_registry):
    reg, v1, v2 = line
    reg.set_alias(v1, "production")
    assert bob_registry.aliases("MobileNet") .empty  # a line bob can see, without aliases
    with pytest.raises(NotFoundError):  # alice's private line is invisible to bob
        bob_registry.model("small@production")
    reg.publish(v1)
    assert bob_registry.model("small@production").id == v1.id
    assert list(bob_registry.aliases("small")["alias"]) == ["production"]
    with pytest.raises(PermissionDeniedError):  # bob cannot move alice's alias or alias her versions
        bob_registry.set_alias(v1, "production")
    with pytest.raises(PermissionDeniedError):
        bob_registry.remove_alias("small", "production")
    reg.set_alias(v2, "production")  # now points at a private version: bob no longer resolves it
    with pytest.raises(NotFoundError):
        bob_registry.model("small@production")
    assert bob_registry.aliases("small").empty


def test_comments_visible_to_whoever_can_see_the_model(line, bob_registry):
    reg, v1, _ = line
    first = reg.add_comment(v1, "  baseline before fine-tuning <b>v1</b>  ")
    comments = reg.comments(v1)
    assert list(comments["author"]) == ["alice"] and comments["text"][0] == "baseline before fine-tuning <b>v1</b>"
    with pytest.raises(NotFoundError):
        bob_registry.comments(v1.id)
    with pytest.raises(NotFoundError):
        bob_registry.add_comment(v1.id, "hello")
    reg.publish(v1)
    bob_registry.add_comment(v1.id, "works for me on sign digits")
    assert list(reg.comments(v1)["author"]) == ["alice", "bob"]
    assert list(bob_registry.comments(v1.id)["author"]) == ["alice", "bob"]
    with pytest.raises(NotFoundError):
        bob_registry.delete_comment(first)
    reg.delete_comment(first)
    assert list(reg.comments(v1)["author"]) == ["bob"]
    with pytest.raises(InputError):
        reg.add_comment(v1, "   ")
    assert reg.versions("small").set_index("version").loc[1, "comments"] == 1


def test_checkpoints_become_versions_with_lineage(line, model_files, bob_registry):
    reg, v1, v2 = line
    x = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    x[2:] = 255
    data = reg.add_dataset(x, [0, 0, 1, 1], "blackwhite", ["black", "white"])
    run_id = reg.start_run(v2, data, optimizer="adam", learning_rate=1e-3, epochs=2)
    reg.log_epoch(run_id, 1, loss=0.9, accuracy=0.5, val_loss=0.8, val_accuracy=0.5)
    reg.log_epoch(run_id, 2, loss=0.5, accuracy=1.0, val_loss=0.4, val_accuracy=0.75)
    ckpt = reg.add_checkpoint(model_files[2], run_id, 1)
    assert ckpt.name == "small" and ckpt.version == 3 and ckpt.parent_id == v2.id and ckpt.run_id == run_id
    assert "checkpoint" in ckpt.tags
    with pytest.raises(InputError, match="already registered"):
        reg.add_checkpoint(model_files[2], run_id, 1)
    with pytest.raises(InputError, match="epoch"):
        reg.add_checkpoint(model_files[2], run_id, -1)
    with pytest.raises(NotFoundError):  # only the run's owner registers its checkpoints
        bob_registry.add_checkpoint(model_files[2], run_id, 2)
    reg.finish_run(run_id, metrics={"test_accuracy": 0.7})
    table = reg.versions("small").set_index("version")
    assert list(table.index) == [1, 2, 3]
    assert table.loc[3, "epoch"] == 1 and table.loc[3, "val_accuracy"] == 0.5  # that epoch's metric
    assert table.loc[3, "parent_version"] == 2 and table.loc[3, "dataset"] == "blackwhite"
    assert table.loc[3, "run_status"] == "finished" and "test_accuracy" in table.loc[3, "metrics"]
    assert table.loc[2, "parent_version"] == 1 and table.loc[3, "owner"] == "alice"
    assert table.loc[3, "created_at"]
    cps = reg.checkpoints(run_id)
    assert list(cps["epoch"]) == [1] and list(cps["version"]) == [3]
    assert [r.version for r in reg.ancestors(ckpt)] == [2, 1]
    # bob sees none of alice's private versions
    with pytest.raises(NotFoundError):
        bob_registry.versions("small")
    reg.publish(v1)
    assert list(bob_registry.versions("small")["version"]) == [1]


def test_checkpoints_diff_against_each_other(line, model_files):
    """A checkpoint version is a model like any other: fmc.diff compares it with its parent."""
    from fmc_jupyter.modeldiff import diff

    reg, v1, v2 = line
    run_id = reg.start_run(v2)
    ckpt = reg.add_checkpoint(model_files[2], run_id, 3)
    d = diff(v2, ckpt, registry=reg)
    assert d.summary == "weights changed in 1 of 2 compared layers"
    assert d.layers.set_index("name_b").loc["head", "fraction_moved"] == 1.0
    assert d.relation == "small:v3 descends from small:v2 (1 generation)"


def test_migration_7_applied_once(tmp_registry):
    assert 7 in tmp_registry.schema_version()
    from fmc_jupyter.registry import Registry

    again = Registry(tmp_registry.path, user="carol")
    assert again.schema_version() == tmp_registry.schema_version()
    again.close()

"""Label mapping: data labels matched to model classes exactly, ignoring case and punctuation, explicitly, in groups."""

import pytest

from camviewer.core.data.index import DatasetIndex, Sample
from camviewer.core.data.labels import (
    LabelMapping,
    LabelMapSyntaxError,
    NotOneToOne,
    OverlappingGroups,
    UnknownClasses,
    UnmatchedLabels,
    format_label_map,
    match_class,
    normalize_label,
    parse_label_map,
    relabeled,
)

PNEUMONIA_CLASSES = ["Bacterial Pneumonia", "Normal", "Viral Pneumonia"]
GROUPED = "NORMAL=Normal;PNEUMONIA=Bacterial Pneumonia|Viral Pneumonia"


@pytest.mark.parametrize(
    "spelling", ["Bacterial Pneumonia", "bacterial_pneumonia", "BACTERIAL-PNEUMONIA", " bacterial  pneumonia. "]
)
def test_names_that_differ_in_case_and_punctuation_have_one_key(spelling):
    assert normalize_label(spelling) == "bacterial pneumonia"
    assert match_class(spelling, PNEUMONIA_CLASSES) == "Bacterial Pneumonia"


def test_different_words_do_not_match_and_an_ambiguous_key_matches_nothing():
    assert normalize_label("BacterialPneumonia") != normalize_label("Bacterial Pneumonia")
    assert normalize_label("Infiltrate") != normalize_label("Infiltration")  # aliases need a label map
    assert match_class("NORMAL", ["Normal", "normal"]) is None  # two classes share the key: no guess
    assert match_class("normal", ["Normal", "normal"]) == "normal"  # the exact name still wins


def test_parse_label_map_reads_entries_groups_comments_and_round_trips():
    text = "NORMAL = Normal ;\n# pneumonia, both kinds\nPNEUMONIA=Bacterial Pneumonia | Viral Pneumonia\n"
    entries = parse_label_map(text)
    assert entries == {"NORMAL": ["Normal"], "PNEUMONIA": ["Bacterial Pneumonia", "Viral Pneumonia"]}
    assert parse_label_map(format_label_map(entries)) == entries
    assert parse_label_map("") == {}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("NORMAL", "no '='"),
        ("=Normal", "no label"),
        ("NORMAL=Normal|", "empty class"),
        ("NORMAL=Normal;normal=Viral Pneumonia", "already mapped"),
    ],
)
def test_parse_label_map_refuses_bad_entries_with_the_entry_and_reason(text, reason):
    with pytest.raises(LabelMapSyntaxError, match=reason) as error:
        parse_label_map(text)
    assert error.value.entry in text and reason in error.value.reason


def test_exact_normalized_explicit_grouped_and_unmatched_labels():
    classes = [*PNEUMONIA_CLASSES, "Tuberculosis"]
    mapping = LabelMapping.build(
        ["Normal", "TUBERCULOSIS", "PNEUMONIA", "COVID"], classes, "PNEUMONIA=Bacterial Pneumonia|Viral Pneumonia"
    )
    how = {match.label: (match.classes, match.how) for match in mapping.matches}
    assert how == {
        "Normal": (("Normal",), "exact"),
        "TUBERCULOSIS": (("Tuberculosis",), "normalized"),
        "PNEUMONIA": (("Bacterial Pneumonia", "Viral Pneumonia"), "explicit"),
        "COVID": ((), "unmatched"),
    }
    assert mapping.unmatched == ["COVID"]  # listed, never dropped
    assert "  COVID        -> (no class: unmatched)" in mapping.preview_lines()
    with pytest.raises(UnmatchedLabels) as error:
        mapping.require_all_matched()
    assert error.value.labels == ["COVID"] and error.value.model_classes == classes


def test_an_explicit_entry_wins_over_the_automatic_match_and_keys_match_like_labels():
    mapping = LabelMapping.build(["normal", "viral"], PNEUMONIA_CLASSES, "NORMAL=Viral Pneumonia;Viral=normal")
    assert mapping.classes_of("normal") == ("Viral Pneumonia",) and mapping.classes_of("viral") == ("Normal",)
    assert all(match.how == "explicit" for match in mapping.matches)


def test_the_grouped_pneumonia_mapping_scores_two_classes():
    mapping = LabelMapping.build(["NORMAL", "PNEUMONIA"], PNEUMONIA_CLASSES, GROUPED).require_all_matched()
    assert mapping.grouped and not mapping.is_identity
    # In the model's order, named after the model class when single, after the label when grouped.
    assert mapping.groups() == [("PNEUMONIA", ("Bacterial Pneumonia", "Viral Pneumonia")), ("Normal", ("Normal",))]
    assert mapping.group_of("PNEUMONIA") == "PNEUMONIA" and mapping.group_of("NORMAL") == "Normal"
    assert mapping.class_for("NORMAL") == "Normal" and mapping.class_for("PNEUMONIA") is None
    assert mapping.uncovered_classes() == []
    assert mapping.preview_lines() == [
        "label mapping (data label -> model class):",
        "  NORMAL    -> Normal  (label map)",
        "  PNEUMONIA -> Bacterial Pneumonia + Viral Pneumonia  (label map, one group: probabilities summed)",
    ]


def test_model_classes_outside_every_group_are_scored_as_themselves():
    mapping = LabelMapping.build(["normal", "bacterial pneumonia"], PNEUMONIA_CLASSES)
    assert [name for name, _ in mapping.groups()] == PNEUMONIA_CLASSES
    assert mapping.uncovered_classes() == ["Viral Pneumonia"]
    assert "model classes no label stands for: Viral Pneumonia" in mapping.preview_lines()[-1]


def test_aliases_share_a_class_and_unused_entries_are_listed():
    mapping = LabelMapping.build(
        ["Infiltrate", "Infiltration", "Mass"], ["Infiltration", "Mass"], "Infiltrate=Infiltration;Nodule=Mass"
    )
    assert mapping.classes_of("Infiltrate") == mapping.classes_of("Infiltration") == ("Infiltration",)
    assert [name for name, _ in mapping.groups()] == ["Infiltration", "Mass"]
    assert mapping.unused == ("Nodule",)
    assert mapping.preview_lines()[-1] == "  label map entries not in the data: Nodule"


def test_a_label_map_naming_an_unknown_class_or_overlapping_groups_is_refused():
    with pytest.raises(UnknownClasses) as error:
        LabelMapping.build(["NORMAL"], PNEUMONIA_CLASSES, "NORMAL=Healthy")
    assert error.value.names == ["Healthy"] and error.value.model_classes == PNEUMONIA_CLASSES
    with pytest.raises(OverlappingGroups) as error:
        LabelMapping.build(["A", "B"], PNEUMONIA_CLASSES, "A=Normal|Viral Pneumonia;B=Viral Pneumonia")
    assert error.value.labels == ["A", "B"] and error.value.shared == ["Viral Pneumonia"]


def test_identity_mapping_and_its_short_preview():
    mapping = LabelMapping.build(["blue", "red"], ["blue", "red"])
    assert mapping.is_identity and mapping.groups() == [("blue", ("blue",)), ("red", ("red",))]
    assert mapping.preview_lines() == ["label mapping: each data label is the model class of the same name (blue, red)"]


def test_one_to_one_for_fine_tuning():
    LabelMapping.build(["BLUE", "Red"], ["blue", "red"]).require_one_to_one()
    with pytest.raises(NotOneToOne) as error:
        LabelMapping.build(["blue"], ["blue", "red"]).require_one_to_one()
    assert error.value.uncovered == ["red"]


def test_relabeled_dataset_uses_the_models_names():
    index = DatasetIndex(
        source=None,
        layout="class-folders",
        class_names=["BLUE", "Red"],
        samples=[Sample("a.png", ("BLUE",), "train"), Sample("b.png", ("Red",))],
        positive_class="Red",
    )
    renamed = relabeled(index, LabelMapping.build(index.class_names, ["blue", "red"]))
    assert renamed.class_names == ["blue", "red"] and renamed.positive_class == "red"
    assert [s.labels for s in renamed.samples] == [("blue",), ("red",)] and renamed.samples[0].split == "train"


def test_mapping_round_trips_through_a_dict():
    mapping = LabelMapping.build(["NORMAL", "PNEUMONIA", "COVID"], PNEUMONIA_CLASSES, GROUPED + ";Other=Normal")
    data = mapping.to_dict()
    assert data["unmatched"] == ["COVID"] and data["unused"] == ["Other"]
    assert data["groups"][0] == {"name": "PNEUMONIA", "classes": ["Bacterial Pneumonia", "Viral Pneumonia"]}
    assert LabelMapping.from_dict(data) == mapping
    assert parse_label_map(format_label_map(mapping.explicit_entries())) == {
        "NORMAL": ["Normal"],
        "PNEUMONIA": ["Bacterial Pneumonia", "Viral Pneumonia"],
    }

import pytest
import torch

from advcourse.models.labels import IMAGENET_CLASSES, class_index, class_name, search_classes


def test_class_list_is_imagenet_1k():
    assert len(IMAGENET_CLASSES) == 1000
    assert IMAGENET_CLASSES[0] == "tench" and IMAGENET_CLASSES[999] == "toilet tissue"


@pytest.mark.parametrize("name, index", [("neck brace", 678), ("Neck Brace", 678), ("  giant   panda ", 388),
                                         ("tabby", 281), ("espresso", 967)])
def test_class_index_is_case_and_space_insensitive(name, index):
    assert class_index(name) == index
    assert class_name(index).lower() == " ".join(name.lower().split())


def test_class_name_accepts_tensor_scalars():
    assert class_name(torch.tensor(678)) == "neck brace"


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match="name: 'neckbrace'.*'neck brace'"):
        class_index("neckbrace")


def test_names_differing_only_by_case():
    assert class_index("Cardigan") == 264 and class_index("cardigan") == 474
    with pytest.raises(ValueError, match=r"\[264, 474\]"):
        class_index("CARDIGAN")


@pytest.mark.parametrize("bad, err", [(1000, ValueError), (-1, ValueError), (2.5, TypeError), ("x", TypeError)])
def test_class_name_rejects_bad_indices(bad, err):
    with pytest.raises(err, match="index"):
        class_name(bad)


def test_class_index_rejects_non_strings():
    with pytest.raises(TypeError, match="name"):
        class_index(678)


def test_search_classes():
    assert (678, "neck brace") in search_classes("brace")

"""Annotation files as they come: box CSVs with any common header, ChestX-ray14's BBox_List, COCO, Pascal VOC.

Every expected box is written by hand from the file's own numbers and its documented convention.
"""

import json

import pytest

from camviewer.core.errors import AmbiguousGroundTruth, AnnotationError
from camviewer.core.trust.groundtruth import load_ground_truth, parse_columns, read_box_csv, read_coco, read_voc_folder
from camviewer.core.trust.groundtruth.regions import Region


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_camviewer_layout_path_x_y_w_h_label(tmp_path):
    table = read_box_csv(
        write(
            tmp_path / "boxes.csv",
            "path,x,y,w,h,label\nparasitized/a.png,1,2,3,4,parasitized\nparasitized/a.png,5,5,2,2,parasitized\n",
        )
    )
    region = table.region("parasitized/a.png")
    assert region.boxes == [(1, 2, 3, 4), (5, 5, 2, 2)] and region.label == "parasitized"
    assert table.region("uninfected/a.png") is None  # a key with folders matches only that path
    assert (
        table.layout.describe()
        == "image: 'path' · box x, y, w, h: 'x', 'y', 'w', 'h' (corner, width, height) · label: 'label'"
    )


def test_image_finding_x_y_w_h_as_nih_users_write_it(tmp_path):
    table = read_box_csv(
        write(
            tmp_path / "boxes.csv",
            "image,finding,x,y,w,h\n00013118_008.png,Atelectasis,225.08,547.01,86.78,79.19\n"
            "00014716_007.png,Infiltrate,694.6,300.2,130.1,210.7\n",
        )
    )
    assert table.region("images/00013118_008.png").boxes == [(225, 547, 87, 79)]  # matched by file name
    region = table.region("00014716_007.png")
    assert region.boxes == [(695, 300, 130, 211)] and region.label == "Infiltrate"
    assert table.labels() == {"Atelectasis": 1, "Infiltrate": 1}
    assert "label: 'finding'" in table.description and "2 boxes on 2 images" in table.description


def test_chestxray14_bbox_list_layout_reads_as_is(tmp_path):
    # The first lines of NIH's BBox_List_2017.csv: the box is spread over four columns, three blank headers.
    text = (
        "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
        "00013118_008.png,Atelectasis,225.084745762712,547.019216763771,86.7796610169491,79.1864406779661,,,\n"
        "00014716_007.png,Atelectasis,686.101694915254,131.543498080428,185.491525423729,313.491525423729,,,\n"
        "00014716_007.png,Infiltrate,600.0,100.0,50.0,60.0,,,\n"
    )
    table = read_box_csv(write(tmp_path / "BBox_List_2017.csv", text))
    assert table.layout.describe() == (
        "image: 'Image Index' · box x, y, w, h: 'Bbox [x', 'y', 'w', 'h]' (corner, width, height) "
        "· label: 'Finding Label'"
    )
    assert table.region("00013118_008.png").boxes == [(225, 547, 87, 79)]
    both = table.region("images_001/00014716_007.png")
    assert both.boxes == [(686, 132, 185, 313), (600, 100, 50, 60)] and both.label is None  # two findings
    by_label = both.by_label()
    assert by_label["Atelectasis"].boxes == [(686, 132, 185, 313)] and by_label["Infiltrate"].boxes == [
        (600, 100, 50, 60)
    ]
    # the same file with the box header quoted as one cell
    quoted = text.replace("Bbox [x,y,w,h],,,", '"Bbox [x,y,w,h]",,,', 1)
    assert read_box_csv(write(tmp_path / "quoted.csv", quoted)).region("00013118_008.png").boxes == [(225, 547, 87, 79)]


def test_corner_layouts_and_other_delimiters(tmp_path):
    table = read_box_csv(write(tmp_path / "a.csv", "filename;xmin;ymin;xmax;ymax;class\nx/b.png;10;20;30;25;nodule\n"))
    assert table.region("x/b.png").boxes == [(10, 20, 20, 5)] and table.region("x/b.png").label == "nodule"
    assert "(corners)" in table.layout.describe()
    table = read_box_csv(write(tmp_path / "b.csv", "Image\tX1\tY1\tX2\tY2\nb.png\t0\t0\t4\t8\n"))
    assert table.region("b.png").boxes == [(0, 0, 4, 8)] and table.region("b.png").label is None
    table = read_box_csv(
        write(tmp_path / "c.csv", "file_name,x_min,y_min,x_max,y_max,class_name\nc.png,1,1,3,3,mass\n")
    )
    assert table.region("c.png").boxes == [(1, 1, 2, 2)]


def test_rsna_style_ids_without_extension_and_rows_without_a_box(tmp_path):
    table = read_box_csv(
        write(
            tmp_path / "stage_2_train_labels.csv",
            "patientId,x,y,width,height,Target\n0004cfab,,,,,0\n00436515,562.0,152.0,256.0,453.0,1\n"
            "00436515,264.0,152.0,213.0,379.0,1\n",
        )
    )
    assert table.region("train/00436515.dcm").boxes == [(562, 152, 256, 453), (264, 152, 213, 379)]
    negative = table.region("train/0004cfab.dcm")  # listed, with no box: a negative image
    assert negative is not None and negative.boxes == []
    assert table.region("train/ffff.dcm") is None
    assert "2 boxes on 1 images, 1 listed without a box" in table.description


def test_columns_override_names_or_numbers(tmp_path):
    path = write(tmp_path / "odd.csv", "img_file,a,b,c,d,diagnosis\nq.png,1,2,3,4,Mass\n")
    with pytest.raises(AnnotationError) as caught:
        read_box_csv(path)
    error = caught.value
    assert error.missing == ("image", "x, y, w, h (or x1, y1, x2, y2)") and error.columns == (
        "img_file",
        "a",
        "b",
        "c",
        "d",
        "diagnosis",
    )
    assert "'img_file', 'a', 'b'" in str(error)
    columns = parse_columns("image=img_file,x=a,y=b,w=c,h=d,label=diagnosis")
    region = read_box_csv(path, columns).region("q.png")
    assert region.boxes == [(1, 2, 3, 4)] and region.label == "Mass"
    region = read_box_csv(path, parse_columns("image=1,x=2,y=3,w=4,h=5")).region("q.png")
    assert region.boxes == [(1, 2, 3, 4)] and region.label is None
    # an override replaces a detected column; an empty one drops it
    table = read_box_csv(
        write(tmp_path / "two.csv", "path,x,y,w,h,label,other\nq.png,1,2,3,4,A,B\n"), {"label": "other"}
    )
    assert table.region("q.png").label == "B"
    assert read_box_csv(tmp_path / "two.csv", {"label": ""}).region("q.png").label is None
    with pytest.raises(AnnotationError, match="no column 'nope' for x; columns found: 'img_file'") as caught:
        read_box_csv(path, {"x": "nope"})
    assert caught.value.column == "nope"
    with pytest.raises(AnnotationError, match="unknown role 'z'"):
        read_box_csv(path, {"z": "a"})
    with pytest.raises(ValueError, match="ROLE=COLUMN"):
        parse_columns("image")


@pytest.mark.parametrize(
    ("rows", "line", "column", "message"),
    [
        ("a.png,1,2,3,4\nb.png,1,two,3,4\n", 3, "y", "y ('y') holds 'two', not a number"),
        ("a.png,1,2,,4\n", 2, "w", "w ('w') is empty"),
        ("a.png,1,2,nan,4\n", 2, "w", "holds 'nan', not a number"),
        ("a.png,1,2,0,4\n", 2, None, "has no area (width 0, height 4)"),
        ("a.png,1,2\n", 2, "w", "the row has 3 cells; w is in column 4"),
        (",1,2,3,4\n", 2, "image", "no image in 'path'"),
    ],
)
def test_bad_rows_name_the_line_and_the_column(tmp_path, rows, line, column, message):
    path = write(tmp_path / "bad.csv", "path,x,y,w,h\n" + rows)
    with pytest.raises(AnnotationError, match=f"bad.csv, line {line}: ") as caught:
        read_box_csv(path)
    assert message in str(caught.value)
    assert caught.value.line == line and caught.value.column == column and caught.value.path == str(path)


def test_unusable_files(tmp_path):
    with pytest.raises(AnnotationError, match="empty file"):
        read_box_csv(write(tmp_path / "empty.csv", ""))
    with pytest.raises(AnnotationError, match="no rows below the header"):
        read_box_csv(write(tmp_path / "header.csv", "path,x,y,w,h\n"))
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81path")
    with pytest.raises(AnnotationError, match="not a text CSV file"):
        read_box_csv(tmp_path / "binary.csv")
    with pytest.raises(AnnotationError, match="cannot tell which columns hold the image and the x, y, w, h"):
        read_box_csv(write(tmp_path / "nothing.csv", "a,b\n1,2\n"))


def test_pascal_voc_folder(tmp_path):
    voc = tmp_path / "Annotations"
    write(
        voc / "000001.xml",
        "<annotation><folder>VOC</folder><filename>000001.jpg</filename><size><width>353</width>"
        "<height>500</height></size><object><name>dog</name><bndbox><xmin>48</xmin><ymin>240</ymin>"
        "<xmax>195</xmax><ymax>371</ymax></bndbox></object><object><name>person</name><bndbox><xmin>8</xmin>"
        "<ymin>12</ymin><xmax>352</xmax><ymax>498</ymax></bndbox></object></annotation>",
    )
    write(voc / "sick" / "b.xml", "<annotation><filename>b.png</filename></annotation>")  # no object: negative
    table = read_voc_folder(voc)
    region = table.region("JPEGImages/000001.jpg")
    # VOC corners are 1-based inclusive pixel indices: x = xmin - 1, w = xmax - x
    assert region.boxes == [(47, 239, 148, 132), (7, 11, 345, 487)] and region.box_labels == ["dog", "person"]
    assert table.region("sick/b.png").boxes == [] and table.region("well/b.png") is None
    assert table.labels() == {"dog": 1, "person": 1}
    assert "Pascal VOC, 2 files" in table.description
    no_xmax = "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><ymax>9</ymax></bndbox></object>"
    write(voc / "bad.xml", f"<annotation><filename>c.png</filename>{no_xmax}</annotation>")
    with pytest.raises(AnnotationError, match=r"bad.xml: object 1 \(cat\): <bndbox><xmax> is missing") as caught:
        read_voc_folder(voc)
    assert caught.value.column == "xmax"
    write(voc / "bad.xml", "<svg></svg>")
    with pytest.raises(AnnotationError, match="not a Pascal VOC annotation"):
        read_voc_folder(voc)
    write(voc / "bad.xml", "<annotation>")
    with pytest.raises(AnnotationError, match="not readable XML"):
        read_voc_folder(voc)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="no .xml files"):
        read_voc_folder(tmp_path / "empty")


def test_coco_json(tmp_path):
    coco = {
        "images": [{"id": 7, "file_name": "x/b.png"}, {"id": 8, "file_name": "x/c.png"}],
        "categories": [{"id": 1, "name": "nodule"}],
        "annotations": [{"id": 3, "image_id": 7, "category_id": 1, "bbox": [10.4, 20.6, 5, 6]}],
    }
    path = write(tmp_path / "coco.json", json.dumps(coco))
    table = read_coco(path)
    assert table.region("x/b.png").boxes == [(10, 21, 5, 6)] and table.region("x/b.png").label == "nodule"
    assert table.region("x/c.png").boxes == []  # an image without annotations has no region
    coco["annotations"][0]["bbox"] = [1, 2, 0, 4]
    with pytest.raises(AnnotationError, match=r"annotation 1 \(id 3\): bbox \[1, 2, 0, 4\] has no area"):
        read_coco(write(path, json.dumps(coco)))
    coco["annotations"][0].update(image_id=9, bbox=[1, 2, 3, 4])
    with pytest.raises(AnnotationError, match="image_id 9 is not among the images"):
        read_coco(write(path, json.dumps(coco)))
    with pytest.raises(AnnotationError, match="not a COCO annotation file"):
        read_coco(write(path, "[1, 2]"))


def test_exactly_one_source(tmp_path):
    boxes = write(tmp_path / "b.csv", "path,x,y,w,h\na.png,1,1,1,1\n")
    with pytest.raises(AmbiguousGroundTruth, match="exactly one ground-truth source is needed") as caught:
        load_ground_truth(masks=tmp_path, boxes=boxes)
    assert caught.value.given == ["masks", "boxes"]
    with pytest.raises(AmbiguousGroundTruth) as caught:
        load_ground_truth()
    assert caught.value.given == []
    assert load_ground_truth(boxes=boxes, columns={"image": "path"}).region("a.png").boxes == [(1, 1, 1, 1)]


def test_region_by_label_keeps_single_label_regions_whole():
    region = Region(boxes=[(0, 0, 1, 1), (2, 2, 1, 1)], label="a", box_labels=["a", "a"])
    assert region.by_label() == {"a": region}
    split = Region(boxes=[(0, 0, 1, 1), (2, 2, 1, 1)], box_labels=["a", None]).by_label()
    assert split["a"].boxes == [(0, 0, 1, 1)] and split[None].boxes == [(2, 2, 1, 1)]

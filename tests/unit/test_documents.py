"""documents.py, pdf_text_layer.py, textract_blocks.py: limits, PDF text layers, OCR-only copies and Textract blocks
to text, without AWS; textract.py's errors and media ids."""
from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from media_pipeline import documents, pdf_text_layer, textract, textract_blocks
from media_pipeline.documents import TEXT_LAYER, TEXTRACT, PageText
from media_pipeline.errors import TEXTRACT as TEXTRACT_ERRORS
from media_pipeline.errors import MediaRejected, PipelineError, ThrottledError, TransientError, aws_error
from tests import document_factory as factory


def rejected_code(call, *args, **kwargs) -> str:
    with pytest.raises(MediaRejected) as caught:
        call(*args, **kwargs)
    return caught.value.code


# --- text layer ---------------------------------------------------------------------------------------------------
def test_clean_text_layer_normalises_pdfium_output():
    raw = "First line  \r\nSecond\x02 line\r\n\r\n\r\n\r\nLast\u00a0word\r\n"
    assert pdf_text_layer.clean_text_layer(raw) == "First line\nSecond line\n\nLast word"


@pytest.mark.parametrize("text, coverage, usable", [
    ("An ordinary paragraph of born-digital text.", 0.0, True),
    ("12", 0.0, False),  # a page number on a scan
    ("\ufffd" * 30 + "abc", 0.0, False),  # a font without a Unicode map
    ("\ue000\ue001\ue002" * 10 + "readable words here", 0.0, False),  # private-use glyph codes
    ("#$%&*+<>=@[]^_{}|~" * 3, 0.0, False),  # symbol soup
    ("CONFIDENTIAL - Scanned by ACME", 0.9, False),  # a header over a scanned body
    ("A searchable scan carries a full OCR layer. " * 6, 0.95, True),
])
def test_text_layer_usability(text, coverage, usable):
    assert pdf_text_layer.text_layer_is_usable(text, image_coverage=coverage) is usable


def test_born_digital_pdf_text_per_page():
    pdf = factory.text_pdf([["Quarterly report", "Revenue grew by 12 percent."], ["Second page (with parentheses) \\ ok"]])
    inspection = pdf_text_layer.inspect_pdf(pdf)
    assert inspection.page_count == 2 and inspection.ocr_pages == []
    assert inspection.text_layer_pages == [
        PageText(1, "Quarterly report\nRevenue grew by 12 percent.", TEXT_LAYER),
        PageText(2, "Second page (with parentheses) \\ ok", TEXT_LAYER),
    ]


def test_scanned_mixed_and_blank_pages_are_told_apart():
    pdf = factory.pdf_bytes([
        factory.text_page("Born-digital page one with plenty of text."),
        factory.scanned_page("A scanned page"),
        factory.scanned_page("Another scan", overlay="Page 3 of 5"),  # thin text layer over a scan
        factory.BlankPage(),
        factory.text_page("Born-digital page five, also with text."),
    ])
    inspection = pdf_text_layer.inspect_pdf(pdf)
    assert inspection.ocr_pages == [2, 3]
    assert [(p.page, p.text) for p in inspection.text_layer_pages] == [
        (1, "Born-digital page one with plenty of text."), (4, ""), (5, "Born-digital page five, also with text.")]


def test_ocr_pdf_holds_only_the_listed_pages_in_order():
    pdf = factory.text_pdf([["the text of page one"], ["the text of page two"], ["the text of page three"]])
    out = io.BytesIO()
    pdf_text_layer.write_ocr_pdf(pdf, [3, 1], out)
    copy = pdf_text_layer.inspect_pdf(out.getvalue())
    assert [p.text for p in copy.text_layer_pages] == ["the text of page three", "the text of page one"]


def test_ocr_pdf_from_an_encrypted_source_is_not_encrypted(tmp_path):
    # A PDF with an owner password only opens without one; its OCR copy must carry no encryption for Textract.
    pdf = factory.scanned_pdf([["scan"]])
    path = tmp_path / "in.pdf"
    path.write_bytes(pdf)
    out = tmp_path / "ocr.pdf"
    pdf_text_layer.write_ocr_pdf(str(path), [1], str(out))
    assert b"/Encrypt" not in out.read_bytes()
    assert pdf_text_layer.inspect_pdf(str(out)).ocr_pages == [1]


@pytest.mark.parametrize("make, code", [
    (factory.encrypted_pdf, "ENCRYPTED_DOCUMENT"),
    (factory.corrupt_pdf, "CORRUPT_DOCUMENT"),
    (lambda: factory.pdf_bytes([factory.text_page("x")] * 3001), "TOO_MANY_PAGES"),
    (lambda: factory.pdf_bytes([factory.scanned_page("huge", size=(3000, 3000))]), "PAGE_TOO_LARGE"),
    (lambda: factory.pdf_bytes([]), "CORRUPT_DOCUMENT"),  # PDFium refuses a page tree with no pages
])
def test_bad_pdfs_are_rejected_with_their_code(make, code):
    assert rejected_code(pdf_text_layer.inspect_pdf, make()) == code


def test_a_wide_born_digital_page_is_not_limited():
    # The 40-inch page limit applies to pages sent to Textract only.
    pdf = factory.pdf_bytes([factory.text_page("A normal page of text, long enough."),
                             factory.scanned_page("poster", size=(612, 792))])
    assert pdf_text_layer.inspect_pdf(pdf).ocr_pages == [2]


# --- sizes and images ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, fmt, code", [
    (0, "pdf", "EMPTY_DOCUMENT"),
    (500 * 1024 * 1024 + 1, "pdf", "DOCUMENT_TOO_LARGE"),
    (500 * 1024 * 1024 + 1, "tiff", "DOCUMENT_TOO_LARGE"),
    (10 * 1024 * 1024 + 1, "png", "DOCUMENT_TOO_LARGE"),
    (10 * 1024 * 1024 + 1, "jpeg", "DOCUMENT_TOO_LARGE"),
])
def test_size_limits(size, fmt, code):
    assert rejected_code(documents.check_size, size, fmt) == code


def test_size_limits_accept_what_textract_accepts():
    documents.check_size(500 * 1024 * 1024, "pdf")
    documents.check_size(200 * 1024 * 1024, "tiff")
    documents.check_size(10 * 1024 * 1024, "png")


@pytest.mark.parametrize("make, code", [
    (lambda: factory.decompression_bomb_png(), "DECOMPRESSION_BOMB"),  # Pillow's own guard
    (lambda: factory.decompression_bomb_png(12_000, 12_000), "DECOMPRESSION_BOMB"),  # ours: pixels per byte
    (lambda: factory.blank_image(size=(10_001, 60)), "IMAGE_TOO_LARGE"),
    (lambda: factory.image_bytes(size=(49, 400)), "IMAGE_TOO_SMALL"),
    (lambda: factory.image_bytes(fmt="GIF"), "UNSUPPORTED_IMAGE_FORMAT"),
    (lambda: factory.image_bytes(fmt="BMP"), "UNSUPPORTED_IMAGE_FORMAT"),
    (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "UNSUPPORTED_IMAGE_FORMAT"),
    (lambda: factory.image_bytes()[:3000], "CORRUPT_IMAGE"),
])
def test_bad_images_are_rejected_before_any_call(make, code):
    assert rejected_code(documents.inspect_image, make()) == code


def test_a_large_but_real_image_is_too_large_not_a_bomb():
    assert documents.check_image_dimensions(9000, 9000, 30_000_000) is None
    with pytest.raises(MediaRejected) as caught:
        documents.check_image_dimensions(12_000, 12_000, 40_000_000)
    assert caught.value.code == "IMAGE_TOO_LARGE"


@pytest.mark.parametrize("fmt, expected", [("PNG", "png"), ("JPEG", "jpeg"), ("TIFF", "tiff")])
def test_images_with_text_are_accepted(fmt, expected):
    inspection = documents.inspect_image(factory.image_bytes(["Invoice 42"], fmt=fmt))
    assert (inspection.format, inspection.width, inspection.height, inspection.frames, inspection.blank) == (
        expected, 850, 1100, 1, False)
    assert not documents.needs_async(inspection, 100_000)


def test_blank_images_are_recognised():
    assert documents.inspect_image(factory.blank_image("PNG")).blank
    assert documents.inspect_image(factory.blank_image("JPEG")).blank


def test_multipage_tiff_goes_async():
    inspection = documents.inspect_image(factory.multipage_tiff([["one"], ["two"], ["three"]]))
    assert inspection.frames == 3 and documents.needs_async(inspection, 50_000)


# --- Textract blocks -------------------------------------------------------------------------------------------
def test_blocks_follow_the_page_blocks_reading_order():
    blocks = factory.textract_blocks({1: ["Title", "First paragraph", "Second paragraph"], 2: ["Next page"]})
    pages = textract_blocks.pages_from_blocks(blocks)
    assert pages == [PageText(1, "Title\nFirst paragraph\nSecond paragraph", TEXTRACT), PageText(2, "Next page", TEXTRACT)]


def test_without_page_children_lines_are_ordered_by_geometry():
    blocks = factory.textract_blocks({1: ["Top line", "Middle line", "Bottom line"]}, shuffle_lines=True)
    assert blocks[1]["Text"] == "Bottom line"  # the blocks really arrive out of order
    assert textract_blocks.pages_from_blocks(blocks)[0].text == "Top line\nMiddle line\nBottom line"


def test_lines_on_the_same_row_read_left_to_right():
    def line(text, left, top):
        return {"BlockType": "LINE", "Text": text, "Id": text, "Page": 1,
                "Geometry": {"BoundingBox": {"Left": left, "Top": top, "Width": 0.2, "Height": 0.02}}}

    blocks = [line("Total", 0.1, 0.502), line("$42.00", 0.7, 0.498), line("Header", 0.1, 0.1)]
    assert textract_blocks.pages_from_blocks(blocks)[0].text == "Header\nTotal\n$42.00"


def test_pages_are_renumbered_and_merged_in_original_order():
    blocks = factory.textract_blocks({1: ["scan of page two"], 2: ["scan of page five"]})
    ocr = textract_blocks.pages_from_blocks(blocks, page_map=[2, 5])
    text_layer = [PageText(1, "one", TEXT_LAYER), PageText(3, "three", TEXT_LAYER), PageText(4, "", TEXT_LAYER)]
    merged = documents.merge_pages(ocr, text_layer)
    assert [(p.page, p.source) for p in merged] == [(1, TEXT_LAYER), (2, TEXTRACT), (3, TEXT_LAYER), (4, TEXT_LAYER), (5, TEXTRACT)]
    assert documents.pages_as_text(merged) == "one\n\nscan of page two\n\nthree\n\nscan of page five\n"
    assert documents.page_sources(merged) == {TEXT_LAYER: [1, 3, 4], TEXTRACT: [2, 5]}


def test_a_page_textract_found_nothing_on_is_kept_empty():
    blocks = factory.textract_blocks({1: ["text"], 2: []})
    pages = textract_blocks.pages_from_blocks(blocks, page_map=[7, 9])
    assert [(p.page, p.text) for p in pages] == [(7, "text"), (9, "")]
    assert documents.empty_page_numbers(pages) == [9]


def test_collector_takes_responses_one_at_a_time():
    responses = factory.textract_responses({1: ["alpha"], 2: ["beta", "gamma"]}, blocks_per_response=3)
    assert len(responses) > 2
    collector = textract_blocks.PageTextCollector()
    for response in responses:
        collector.add(response["Blocks"])
    assert [p.text for p in collector.pages([1, 2])] == ["alpha", "beta\ngamma"]


def test_describe_pages():
    assert documents.describe_pages([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert documents.describe_pages([]) == ""


# --- service errors --------------------------------------------------------------------------------------------
def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize("exc, cls, code", [
    (client_error("ProvisionedThroughputExceededException"), ThrottledError, "TEXTRACT_THROTTLED"),
    (client_error("ThrottlingException"), ThrottledError, "TEXTRACT_THROTTLED"),
    (client_error("LimitExceededException"), ThrottledError, "TEXTRACT_THROTTLED"),
    (client_error("InternalServerError", 500), TransientError, "TEXTRACT_UNAVAILABLE"),
    (client_error("ServiceUnavailable", 503), TransientError, "TEXTRACT_UNAVAILABLE"),
    (EndpointConnectionError(endpoint_url="https://textract"), TransientError, "TEXTRACT_UNAVAILABLE"),
    (client_error("UnsupportedDocumentException"), MediaRejected, "TEXTRACT_REJECTED"),
    (client_error("BadDocumentException"), MediaRejected, "TEXTRACT_REJECTED"),
    (client_error("AccessDeniedException"), PipelineError, "TEXTRACT_ACCESS_DENIED"),
    (client_error("IdempotentParameterMismatchException"), PipelineError, "TEXTRACT_REQUEST_FAILED"),
])
def test_service_errors_become_typed_failures(exc, cls, code):
    error = aws_error(exc, TEXTRACT_ERRORS, "DetectDocumentText")
    assert type(error) is cls and error.code == code


def test_media_id_from_an_ocr_input_location():
    media_id = "0123456789abcdef0123456789abcdef"
    assert textract.media_id_from_location({"S3ObjectName": f"results/{media_id}/ocr-input.pdf"}, "results/") == media_id
    assert textract.media_id_from_location({"S3ObjectName": "uploads/x.pdf"}, "results/") is None


def test_pdfium_is_used_by_one_thread_at_a_time():
    """PDFium is not thread-safe, and the local mode runs functions as threads of one process: an open document
    holds the lock, and inspections from many threads all answer."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    pdf = factory.text_pdf([["Quarterly report", "Revenue grew by 12 percent."], ["The second page of the report."]])
    with pdf_text_layer.open_pdf(pdf):
        other = threading.Thread(target=lambda: taken.append(pdf_text_layer.PDFIUM_LOCK.acquire(timeout=0.2)))
        taken: list[bool] = []
        other.start()
        other.join()
        assert taken == [False]
    with ThreadPoolExecutor(8) as pool:
        inspections = list(pool.map(pdf_text_layer.inspect_pdf, [pdf] * 32))
    assert all(i == inspections[0] for i in inspections)
    assert [page.text for page in inspections[0].text_layer_pages] == [
        "Quarterly report\nRevenue grew by 12 percent.", "The second page of the report."]

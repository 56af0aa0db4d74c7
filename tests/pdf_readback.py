"""Read a PDF back as a person and a door scanner would: page text and QR codes."""

from __future__ import annotations

from io import BytesIO
from typing import NamedTuple

import pypdfium2
import zxingcpp
from pypdf import PdfReader


class PageReadback(NamedTuple):
    text: str
    qr_texts: list[str]


def read_pdf_pages(pdf: bytes, *, scale: float = 2.0) -> list[PageReadback]:
    """Return (text, decoded QR texts) per page.

    scale 2 renders at 144 dpi: about five pixels per module of a 6 cm QR code, a fair
    stand-in for a phone camera, without slowing the suite down.
    """
    texts = [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]
    document = pypdfium2.PdfDocument(pdf)
    try:
        qr_texts = [_decode_qr_codes(page, scale) for page in document]
    finally:
        document.close()
    return [PageReadback(text, qrs) for text, qrs in zip(texts, qr_texts, strict=True)]


def _decode_qr_codes(page: pypdfium2.PdfPage, scale: float) -> list[str]:
    image = page.render(scale=scale).to_pil()
    return [
        code.text
        for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    ]

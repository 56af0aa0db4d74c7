"""Reading a PDF back as a person and a scanner would: its text, and the QR codes on each page."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

import pypdfium2
import zxingcpp
from pypdf import PdfReader


@dataclass(frozen=True)
class Page:
    text: str
    qr_codes: list[str]


def read_pdf(pdf: bytes, scale: float = 3.0) -> list[Page]:
    texts = [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]
    document = pypdfium2.PdfDocument(pdf)
    try:
        images = [document[i].render(scale=scale).to_pil() for i in range(len(document))]
    finally:
        document.close()
    return [
        Page(
            text,
            [
                code.text
                for code in zxingcpp.read_barcodes(image)
                if code.format == zxingcpp.BarcodeFormat.QRCode
            ],
        )
        for text, image in zip(texts, images, strict=True)
    ]

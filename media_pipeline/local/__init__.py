"""The offline local mode: the pipeline's own handlers and state machine on an embedded AWS emulator (moto),
with offline engines behind the emulated Transcribe, Textract and Bedrock APIs.

- `moto_gaps`: every workaround for what moto does not emulate, each with a test.
- `engines`: speech (faster-whisper), OCR (RapidOCR) and an extractive stand-in for the language model.
- `runtime`: builds the emulated account from the same definitions as the AWS deployment and runs uploads.
"""

"""Encrypted Temporal payloads: an AES-GCM codec with rotating keys, the data converter that
uses it, and the codec server the Temporal Web UI decodes through."""

from retrofit.codec.aes_gcm import ENCODING, KEY_ID_METADATA, AesGcmCodec, PayloadDecryptionError
from retrofit.codec.converter import codec_from_settings, data_converter
from retrofit.codec.keys import CodecConfigError, Keyring, UnknownKeyError, parse_keyring

__all__ = [
    "ENCODING",
    "KEY_ID_METADATA",
    "AesGcmCodec",
    "CodecConfigError",
    "Keyring",
    "PayloadDecryptionError",
    "UnknownKeyError",
    "codec_from_settings",
    "data_converter",
    "parse_keyring",
]

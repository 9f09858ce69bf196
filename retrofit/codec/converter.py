"""The one data converter every Retrofit client, worker and replayer uses."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from retrofit.codec.aes_gcm import AesGcmCodec
from retrofit.codec.keys import parse_keyring
from retrofit.codec.payloads import RetrofitPayloadConverter
from retrofit.settings import RetrofitSettings

#: pydantic payloads; a workflow start input that does not decode reaches the gate (not a retry loop).
RETROFIT_DATA_CONVERTER = dataclasses.replace(
    pydantic_data_converter, payload_converter_class=RetrofitPayloadConverter
)


def codec_from_settings(settings: RetrofitSettings) -> AesGcmCodec | None:
    """The payload codec the settings ask for; None (plaintext payloads) when no keys are set."""
    keyring = parse_keyring(settings.codec_keys, settings.codec_active_key)
    return None if keyring is None else AesGcmCodec(keyring)


def data_converter(settings: RetrofitSettings) -> DataConverter:
    """pydantic payloads, encrypted when codec keys are configured.

    With a codec, failure messages and stack traces move into the encrypted attributes too:
    an exception message from a legacy system can carry as much customer data as a payload.
    Raises CodecConfigError on unusable key settings.
    """
    codec = codec_from_settings(settings)
    if codec is None:
        return RETROFIT_DATA_CONVERTER
    return dataclasses.replace(
        RETROFIT_DATA_CONVERTER,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def with_pydantic_payloads(existing: DataConverter | None) -> DataConverter:
    """The plugin's converter: pydantic payloads, keeping whatever codec and failure converter
    the client was built with (so a plugin never silently drops encryption)."""
    if existing is None:
        return RETROFIT_DATA_CONVERTER
    if existing.payload_converter_class is RetrofitPayloadConverter:
        return existing
    return dataclasses.replace(existing, payload_converter_class=RetrofitPayloadConverter)

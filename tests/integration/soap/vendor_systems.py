"""Two vendor SOAP services on loopback, answering in the shapes Bing Ads v13 and FedEx send.

Not the vendors' whole WSDLs (another test loads those): the parts of their contracts that the
SOAP base must read. Every answer is real XML over real HTTP, as the vendor writes it:

- **Bing Ads Campaign Management** (`/bing/v13`): calls carry `AuthenticationToken` and
  `DeveloperToken` SOAP headers; every answer carries a `TrackingId` header. Faults are
  `s:Server` with an `AdApiFaultDetail` (`Errors/AdApiError`: `Code`, `ErrorCode`, `Message`)
  for authentication and throttling, or an `ApiFaultDetail` (`OperationErrors/OperationError`,
  `BatchErrors/BatchError`) for bad input. `GetCampaignsByAccountId` declares its `TrackingId`
  output header in the WSDL, `GetLabelsByIds` does not (the service sends it anyway).
- **FedEx Track** (`/fedex/track`): errors come back as HTTP 200 answers with
  `HighestSeverity` ERROR or FAILURE and `Notifications` (`Severity`, `Source`, `Code`, `Message`).

Which answer a call gets depends on what it sends (an account id, a tracking number), so a test
says what it wants through the request alone; `requests` counts the calls per operation.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from pydantic import BaseModel, SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connectors.soap import SoapConnector, SoapSettings
from connectors.soap.faults import ErrorKind, VendorFault
from retrofit import ActionInput, Effect, action
from retrofit.http_serving import ThreadedUvicorn
from retrofit.sdk import AuthError, Delivery, NonRetryableError, RetrofitError, RetryableError

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
BING_NS = "https://bingads.microsoft.com/CampaignManagement/v13"
ADAPI_NS = "https://adapi.microsoft.com"
FEDEX_NS = "http://fedex.com/ws/track/v19"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

AUTHENTICATION_TOKEN = "bing-oauth-access-token-7f3a"
DEVELOPER_TOKEN = "bing-developer-token-0c41"
FEDEX_KEY = "fedex-key-31d2"

# Account ids that pick a fault (anything else answers campaigns).
ACCOUNT_INVALID_USER = 1029
ACCOUNT_RATE_LIMITED = 117
ACCOUNT_INTERNAL_ERROR = 0
ACCOUNT_UNKNOWN_VENDOR_CODE = 4815
ACCOUNT_MAINTENANCE = 2

# Tracking numbers that pick an answer (anything else is delivered).
TRACKING_BAD_NUMBER = "000000000000"
TRACKING_SYSTEM_FAILURE = "999999999999"
TRACKING_WARNING = "111111111111"


def bing_wsdl(address: str) -> str:
    def header_parts(op: str) -> str:
        return (
            f'<wsdl:message name="{op}Request_Headers">'
            '<wsdl:part name="AuthenticationToken" element="tns:AuthenticationToken"/>'
            '<wsdl:part name="DeveloperToken" element="tns:DeveloperToken"/>'
            '<wsdl:part name="CustomerAccountId" element="tns:CustomerAccountId"/>'
            "</wsdl:message>"
        )

    def input_headers(op: str) -> str:
        return "".join(
            f'<soap:header message="tns:{op}Request_Headers" part="{part}" use="literal"/>'
            for part in ("AuthenticationToken", "DeveloperToken", "CustomerAccountId")
        )

    return f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="CampaignManagementService" targetNamespace="{BING_NS}"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{BING_NS}" xmlns:adapi="{ADAPI_NS}">
  <wsdl:types>
    <xs:schema elementFormDefault="qualified" targetNamespace="{ADAPI_NS}">
      <xs:complexType name="AdApiError">
        <xs:sequence>
          <xs:element minOccurs="0" name="Code" type="xs:int"/>
          <xs:element minOccurs="0" name="Detail" nillable="true" type="xs:string"/>
          <xs:element minOccurs="0" name="ErrorCode" nillable="true" type="xs:string"/>
          <xs:element minOccurs="0" name="Message" nillable="true" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ArrayOfAdApiError">
        <xs:sequence>
          <xs:element minOccurs="0" maxOccurs="unbounded" name="AdApiError" nillable="true"
              type="adapi:AdApiError"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="AdApiFaultDetail">
        <xs:sequence>
          <xs:element minOccurs="0" name="TrackingId" nillable="true" type="xs:string"/>
          <xs:element minOccurs="0" name="Errors" nillable="true" type="adapi:ArrayOfAdApiError"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="AdApiFaultDetail" nillable="true" type="adapi:AdApiFaultDetail"/>
    </xs:schema>
    <xs:schema elementFormDefault="qualified" targetNamespace="{BING_NS}">
      <xs:element name="AuthenticationToken" nillable="true" type="xs:string"/>
      <xs:element name="DeveloperToken" nillable="true" type="xs:string"/>
      <xs:element name="CustomerAccountId" nillable="true" type="xs:string"/>
      <xs:element name="TrackingId" nillable="true" type="xs:string"/>
      <xs:complexType name="Campaign">
        <xs:sequence>
          <xs:element minOccurs="0" name="Id" nillable="true" type="xs:long"/>
          <xs:element minOccurs="0" name="Name" nillable="true" type="xs:string"/>
          <xs:element minOccurs="0" name="Status" nillable="true" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ArrayOfCampaign">
        <xs:sequence>
          <xs:element minOccurs="0" maxOccurs="unbounded" name="Campaign" nillable="true"
              type="tns:Campaign"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Label">
        <xs:sequence>
          <xs:element minOccurs="0" name="Id" nillable="true" type="xs:long"/>
          <xs:element minOccurs="0" name="Name" nillable="true" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ArrayOfLabel">
        <xs:sequence>
          <xs:element minOccurs="0" maxOccurs="unbounded" name="Label" nillable="true" type="tns:Label"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="GetCampaignsByAccountIdRequest">
        <xs:complexType><xs:sequence>
          <xs:element minOccurs="0" name="AccountId" type="xs:long"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetCampaignsByAccountIdResponse">
        <xs:complexType><xs:sequence>
          <xs:element minOccurs="0" name="Campaigns" nillable="true" type="tns:ArrayOfCampaign"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetLabelsByIdsRequest">
        <xs:complexType><xs:sequence>
          <xs:element minOccurs="0" name="AccountId" type="xs:long"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="GetLabelsByIdsResponse">
        <xs:complexType><xs:sequence>
          <xs:element minOccurs="0" name="Labels" nillable="true" type="tns:ArrayOfLabel"/>
        </xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="GetCampaignsByAccountIdRequest">
    <wsdl:part name="parameters" element="tns:GetCampaignsByAccountIdRequest"/>
  </wsdl:message>
  {header_parts("GetCampaignsByAccountId")}
  <wsdl:message name="GetCampaignsByAccountIdResponse">
    <wsdl:part name="parameters" element="tns:GetCampaignsByAccountIdResponse"/>
  </wsdl:message>
  <wsdl:message name="GetCampaignsByAccountIdResponse_Headers">
    <wsdl:part name="TrackingId" element="tns:TrackingId"/>
  </wsdl:message>
  <wsdl:message name="GetLabelsByIdsRequest">
    <wsdl:part name="parameters" element="tns:GetLabelsByIdsRequest"/>
  </wsdl:message>
  {header_parts("GetLabelsByIds")}
  <wsdl:message name="GetLabelsByIdsResponse">
    <wsdl:part name="parameters" element="tns:GetLabelsByIdsResponse"/>
  </wsdl:message>
  <wsdl:message name="AdApiFaultDetailFault">
    <wsdl:part name="detail" element="adapi:AdApiFaultDetail"/>
  </wsdl:message>
  <wsdl:portType name="ICampaignManagementService">
    <wsdl:operation name="GetCampaignsByAccountId">
      <wsdl:input name="GetCampaignsByAccountIdRequest" message="tns:GetCampaignsByAccountIdRequest"/>
      <wsdl:output name="GetCampaignsByAccountIdResponse" message="tns:GetCampaignsByAccountIdResponse"/>
      <wsdl:fault name="AdApiFaultDetailFault" message="tns:AdApiFaultDetailFault"/>
    </wsdl:operation>
    <wsdl:operation name="GetLabelsByIds">
      <wsdl:input name="GetLabelsByIdsRequest" message="tns:GetLabelsByIdsRequest"/>
      <wsdl:output name="GetLabelsByIdsResponse" message="tns:GetLabelsByIdsResponse"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="BasicHttpBinding_ICampaignManagementService" type="tns:ICampaignManagementService">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="GetCampaignsByAccountId">
      <soap:operation soapAction="GetCampaignsByAccountId" style="document"/>
      <wsdl:input name="GetCampaignsByAccountIdRequest">
        {input_headers("GetCampaignsByAccountId")}<soap:body use="literal"/>
      </wsdl:input>
      <wsdl:output name="GetCampaignsByAccountIdResponse">
        <soap:header message="tns:GetCampaignsByAccountIdResponse_Headers" part="TrackingId" use="literal"/>
        <soap:body use="literal"/>
      </wsdl:output>
      <wsdl:fault name="AdApiFaultDetailFault"><soap:fault name="AdApiFaultDetailFault" use="literal"/></wsdl:fault>
    </wsdl:operation>
    <wsdl:operation name="GetLabelsByIds">
      <soap:operation soapAction="GetLabelsByIds" style="document"/>
      <wsdl:input name="GetLabelsByIdsRequest">
        {input_headers("GetLabelsByIds")}<soap:body use="literal"/>
      </wsdl:input>
      <wsdl:output name="GetLabelsByIdsResponse"><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="CampaignManagementService">
    <wsdl:port name="BasicHttpBinding_ICampaignManagementService"
        binding="tns:BasicHttpBinding_ICampaignManagementService">
      <soap:address location="{address}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def fedex_wsdl(address: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:ns="{FEDEX_NS}" xmlns:s1="http://schemas.xmlsoap.org/wsdl/soap/"
    targetNamespace="{FEDEX_NS}" name="TrackServiceDefinitions">
  <types>
    <xs:schema attributeFormDefault="qualified" elementFormDefault="qualified"
        targetNamespace="{FEDEX_NS}">
      <xs:element name="TrackRequest" type="ns:TrackRequest"/>
      <xs:element name="TrackReply" type="ns:TrackReply"/>
      <xs:simpleType name="NotificationSeverityType">
        <xs:restriction base="xs:string">
          <xs:enumeration value="ERROR"/><xs:enumeration value="FAILURE"/>
          <xs:enumeration value="NOTE"/><xs:enumeration value="SUCCESS"/>
          <xs:enumeration value="WARNING"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:complexType name="Notification">
        <xs:sequence>
          <xs:element name="Severity" type="ns:NotificationSeverityType" minOccurs="0"/>
          <xs:element name="Source" type="xs:string" minOccurs="0"/>
          <xs:element name="Code" type="xs:string" minOccurs="0"/>
          <xs:element name="Message" type="xs:string" minOccurs="0"/>
          <xs:element name="LocalizedMessage" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="WebAuthenticationCredential">
        <xs:sequence>
          <xs:element name="Key" type="xs:string"/>
          <xs:element name="Password" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="WebAuthenticationDetail">
        <xs:sequence>
          <xs:element name="UserCredential" type="ns:WebAuthenticationCredential"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="TrackRequest">
        <xs:sequence>
          <xs:element name="WebAuthenticationDetail" type="ns:WebAuthenticationDetail"/>
          <xs:element name="TrackingNumber" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="TrackDetail">
        <xs:sequence>
          <xs:element name="TrackingNumber" type="xs:string" minOccurs="0"/>
          <xs:element name="StatusDescription" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="TrackReply">
        <xs:sequence>
          <xs:element name="HighestSeverity" type="ns:NotificationSeverityType"/>
          <xs:element name="Notifications" type="ns:Notification" maxOccurs="unbounded"/>
          <xs:element name="TrackDetails" type="ns:TrackDetail" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
    </xs:schema>
  </types>
  <message name="TrackRequest"><part name="TrackRequest" element="ns:TrackRequest"/></message>
  <message name="TrackReply"><part name="TrackReply" element="ns:TrackReply"/></message>
  <portType name="TrackPortType">
    <operation name="track" parameterOrder="TrackRequest">
      <input message="ns:TrackRequest"/>
      <output message="ns:TrackReply"/>
    </operation>
  </portType>
  <binding name="TrackServiceSoapBinding" type="ns:TrackPortType">
    <s1:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="track">
      <s1:operation soapAction="http://fedex.com/ws/track/v19/track" style="document"/>
      <input><s1:body use="literal"/></input>
      <output><s1:body use="literal"/></output>
    </operation>
  </binding>
  <service name="TrackService">
    <port name="TrackServicePort" binding="ns:TrackServiceSoapBinding">
      <s1:address location="{address}"/>
    </port>
  </service>
</definitions>
"""


def _envelope(body: str, header: str = "") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def adapi_fault(tracking_id: str, code: int, error_code: str, message: str) -> bytes:
    """Bing's fault for authentication, throttling and internal errors (an `AdApiFaultDetail`)."""
    return _envelope(
        "<s:Fault><faultcode>s:Server</faultcode>"
        '<faultstring xml:lang="en-US">Invalid client data. Check the SOAP fault details for more '
        f"information. TrackingId: {tracking_id}.</faultstring>"
        f'<detail><AdApiFaultDetail xmlns="{ADAPI_NS}" xmlns:i="{XSI}">'
        f"<TrackingId>{tracking_id}</TrackingId><Errors><AdApiError><Code>{code}</Code>"
        f'<Detail i:nil="true"/><ErrorCode>{error_code}</ErrorCode><Message>{message}</Message>'
        "</AdApiError></Errors></AdApiFaultDetail></detail></s:Fault>",
        _tracking_header(tracking_id),
    )


def api_fault(tracking_id: str, code: int, error_code: str, message: str, *, batch: bool = False) -> bytes:
    """Bing's fault for bad input (an `ApiFaultDetail`, operation or batch errors)."""
    error = (
        f'<Code>{code}</Code><Details i:nil="true"/><ErrorCode>{error_code}</ErrorCode>'
        f"<Message>{message}</Message>"
    )
    if batch:
        errors = f'<BatchErrors><BatchError><Code>{code}</Code><Details i:nil="true"/><ErrorCode>{error_code}</ErrorCode><FieldPath i:nil="true"/><Index>0</Index><Message>{message}</Message></BatchError></BatchErrors><OperationErrors/>'
    else:
        errors = f"<BatchErrors/><OperationErrors><OperationError>{error}</OperationError></OperationErrors>"
    return _envelope(
        "<s:Fault><faultcode>s:Server</faultcode>"
        '<faultstring xml:lang="en-US">Invalid client data. Check the SOAP fault details for more '
        f"information. TrackingId: {tracking_id}.</faultstring>"
        f'<detail><ApiFaultDetail xmlns="{BING_NS}" xmlns:i="{XSI}">'
        f"<TrackingId>{tracking_id}</TrackingId>{errors}</ApiFaultDetail></detail></s:Fault>",
        _tracking_header(tracking_id),
    )


def _tracking_header(tracking_id: str) -> str:
    return f'<h:TrackingId xmlns:h="{BING_NS}">{tracking_id}</h:TrackingId>'


class VendorSoap(ThreadedUvicorn):
    """Both vendor services on one loopback server; `bing_wsdl_url`, `fedex_wsdl_url`."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.tracking_ids: list[str] = []
        self._lock = threading.Lock()
        super().__init__(
            Starlette(
                routes=[
                    Route("/health", lambda _: PlainTextResponse("ok")),
                    Route("/bing/v13", self._bing_wsdl, methods=["GET"]),
                    Route("/bing/v13", self._bing, methods=["POST"]),
                    Route("/fedex/track", self._fedex_wsdl, methods=["GET"]),
                    Route("/fedex/track", self._fedex, methods=["POST"]),
                ]
            ),
            name="vendor-soap",
            health_path="/health",
        )

    @property
    def bing_wsdl_url(self) -> str:
        return f"{self.url}/bing/v13?wsdl"

    @property
    def fedex_wsdl_url(self) -> str:
        return f"{self.url}/fedex/track?wsdl"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.tracking_ids.clear()

    async def _bing_wsdl(self, request: Request) -> Response:
        return _xml(bing_wsdl(f"{self.url}/bing/v13").encode())

    async def _fedex_wsdl(self, request: Request) -> Response:
        return _xml(fedex_wsdl(f"{self.url}/fedex/track").encode())

    async def _bing(self, request: Request) -> Response:
        envelope = etree.fromstring(await request.body())
        header = envelope.find(f"{{{SOAP_ENV}}}Header")
        body = envelope.find(f"{{{SOAP_ENV}}}Body")[0]
        operation = etree.QName(body).localname.removesuffix("Request")
        tracking_id = str(uuid.uuid4())
        with self._lock:
            self.requests[operation] += 1
            self.tracking_ids.append(tracking_id)
        token = header.findtext(f"{{{BING_NS}}}AuthenticationToken") if header is not None else None
        developer = header.findtext(f"{{{BING_NS}}}DeveloperToken") if header is not None else None
        if token != AUTHENTICATION_TOKEN or developer != DEVELOPER_TOKEN:
            message = (
                "Authentication failed. Either supplied credentials are invalid or the account is inactive"
            )
            return _xml(adapi_fault(tracking_id, 105, "InvalidCredentials", message), 500)
        account = int(body.findtext(f"{{{BING_NS}}}AccountId") or "-1")
        if account == ACCOUNT_INVALID_USER:
            message = "The user identifier is not valid."
            return _xml(api_fault(tracking_id, 1029, "InvalidUserId", message), 500)
        if account == ACCOUNT_RATE_LIMITED:
            message = (
                "You have exceeded the number of calls that you are allowed to make in a given time period."
            )
            return _xml(adapi_fault(tracking_id, 117, "CallRateExceeded", message), 500)
        if account == ACCOUNT_INTERNAL_ERROR:
            message = "An internal error has occurred."
            return _xml(adapi_fault(tracking_id, 0, "InternalError", message), 500)
        if account == ACCOUNT_UNKNOWN_VENDOR_CODE:
            message = "The campaign budget amount is below the minimum."
            return _xml(
                api_fault(
                    tracking_id, 1108, "CampaignBudgetAmountIsBelowConfiguredLimit", message, batch=True
                ),
                500,
            )
        if account == ACCOUNT_MAINTENANCE:
            message = "The service is in maintenance; try again later."
            return _xml(api_fault(tracking_id, 9901, "SystemInMaintenance", message), 500)
        if operation == "GetLabelsByIds":
            answer = (
                f'<GetLabelsByIdsResponse xmlns="{BING_NS}"><Labels>'
                "<Label><Id>31</Id><Name>Winter sale</Name></Label></Labels></GetLabelsByIdsResponse>"
            )
        else:
            answer = (
                f'<GetCampaignsByAccountIdResponse xmlns="{BING_NS}"><Campaigns>'
                "<Campaign><Id>7001</Id><Name>Brand</Name><Status>Active</Status></Campaign>"
                "<Campaign><Id>7002</Id><Name>Generic</Name><Status>Paused</Status></Campaign>"
                "</Campaigns></GetCampaignsByAccountIdResponse>"
            )
        return _xml(_envelope(answer, _tracking_header(tracking_id)))

    async def _fedex(self, request: Request) -> Response:
        envelope = etree.fromstring(await request.body())
        body = envelope.find(f"{{{SOAP_ENV}}}Body")[0]
        with self._lock:
            self.requests["track"] += 1
        key = body.findtext(
            f"{{{FEDEX_NS}}}WebAuthenticationDetail/{{{FEDEX_NS}}}UserCredential/{{{FEDEX_NS}}}Key"
        )
        number = body.findtext(f"{{{FEDEX_NS}}}TrackingNumber") or ""
        if key != FEDEX_KEY:
            notes = [("ERROR", "prof", "1000", "Authentication Failed")]
            return _xml(self._track_reply("ERROR", notes))
        if number == TRACKING_BAD_NUMBER:
            notes = [
                ("WARNING", "trck", "9045", "Sent Information was not complete."),
                ("ERROR", "trck", "6035", "Invalid tracking numbers. Please check the following numbers."),
            ]
            return _xml(self._track_reply("ERROR", notes))
        if number == TRACKING_SYSTEM_FAILURE:
            notes = [("FAILURE", "trck", "9999", "General Failure")]
            return _xml(self._track_reply("FAILURE", notes))
        if number == TRACKING_WARNING:
            notes = [("WARNING", "trck", "9045", "Sent Information was not complete.")]
            return _xml(self._track_reply("WARNING", notes, number=number))
        return _xml(
            self._track_reply(
                "SUCCESS", [("SUCCESS", "trck", "0", "Request was successfully processed.")], number=number
            )
        )

    @staticmethod
    def _track_reply(
        severity: str, notifications: list[tuple[str, str, str, str]], *, number: str | None = None
    ) -> bytes:
        notes = "".join(
            f"<Notifications><Severity>{s}</Severity><Source>{src}</Source><Code>{code}</Code>"
            f"<Message>{message}</Message><LocalizedMessage>{message}</LocalizedMessage></Notifications>"
            for s, src, code, message in notifications
        )
        detail = (
            f"<TrackDetails><TrackingNumber>{number}</TrackingNumber>"
            "<StatusDescription>Delivered</StatusDescription></TrackDetails>"
            if number
            else ""
        )
        return (
            '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
            f'<SOAP-ENV:Header/><SOAP-ENV:Body><TrackReply xmlns="{FEDEX_NS}">'
            f"<HighestSeverity>{severity}</HighestSeverity>{notes}{detail}</TrackReply>"
            "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
        ).encode()


# -- connectors to them, as an integrator would write them -------------------------------------


class BingSettings(SoapSettings):
    wsdl: str = "https://campaign.api.bingads.microsoft.com/Api/Advertiser/CampaignManagement/v13/CampaignManagementService.svc?singleWsdl"
    authentication_token: SecretStr = SecretStr(AUTHENTICATION_TOKEN)
    developer_token: SecretStr = SecretStr(DEVELOPER_TOKEN)
    customer_account_id: str = "151000001"


class AccountRequest(ActionInput):
    account_id: int


class Campaign(BaseModel):
    id: int
    name: str
    status: str


class CampaignArray(BaseModel):
    campaign: list[Campaign]


class Campaigns(BaseModel):
    campaigns: CampaignArray


class Label(BaseModel):
    id: int
    name: str


class LabelArray(BaseModel):
    label: list[Label]


class Labels(BaseModel):
    labels: LabelArray


class Bing(SoapConnector):
    """Bing Ads Campaign Management v13 (the parts the vendor test server speaks)."""

    name = "bing_vendor_test"
    Settings = BingSettings
    settings: BingSettings

    async def open(self) -> None:
        await super().open()
        s = self.settings
        self.set_soap_headers(
            {
                "AuthenticationToken": s.authentication_token.get_secret_value(),
                "DeveloperToken": s.developer_token.get_secret_value(),
                "CustomerAccountId": s.customer_account_id,
            }
        )

    @action(effect=Effect.READ)
    async def get_campaigns(self, req: AccountRequest) -> Campaigns:
        """The campaigns of one account."""
        return await self.call("GetCampaignsByAccountId", req, returns=Campaigns)


class BingWithCodes(Bing):
    """The same, with the vendor's own knowledge: a code table and a fault hook."""

    name = "bing_vendor_test_codes"
    error_codes: ClassVar[Mapping[str, ErrorKind]] = {"1108": NonRetryableError}

    def classify_fault(self, fault: VendorFault) -> RetrofitError | ErrorKind | None:
        if fault.has("SystemInMaintenance"):
            # Bing support asks for the TrackingId of a failed call: put it in the message.
            return RetryableError(
                f"{self.name} {fault.operation}: Bing is in maintenance "
                f"(TrackingId {fault.headers.get('tracking_id')})",
                retry_after=timedelta(minutes=5),
                delivery=Delivery.ANSWERED,
            )
        return None


class FedexSettings(SoapSettings):
    wsdl: str = "TrackService_v19.wsdl"
    key: SecretStr = SecretStr(FEDEX_KEY)
    fedex_password: SecretStr = SecretStr("fedex-password-88")


class TrackShipment(ActionInput):
    tracking_number: str


class TrackDetail(BaseModel):
    tracking_number: str
    status_description: str


class TrackReply(BaseModel):
    highest_severity: str
    track_details: TrackDetail


class Fedex(SoapConnector):
    """FedEx Track v19 (the parts the vendor test server speaks)."""

    name = "fedex_vendor_test"
    Settings = FedexSettings
    settings: FedexSettings
    error_codes: ClassVar[Mapping[str, ErrorKind]] = {
        "1000": AuthError
    }  # "Authentication Failed", reported as HighestSeverity ERROR

    def answer_error(self, operation: str, answer: Any) -> RetrofitError | None:
        return self.severity_error(operation, answer)

    @action(effect=Effect.READ)
    async def track(self, req: TrackShipment) -> TrackReply:
        """Where a shipment is."""
        s = self.settings
        credential = {"key": s.key.get_secret_value(), "password": s.fedex_password.get_secret_value()}
        arguments = {"web_authentication_detail": {"user_credential": credential}, **req.model_dump()}
        return await self.call("track", arguments, returns=TrackReply)

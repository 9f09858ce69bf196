"""The demo ERP's WSDL (SOAP 1.1, document/literal wrapped), served at `GET /erp?wsdl`.

The soap:address is filled in per request from the URL the client used, so a server on a
random test port publishes a WSDL that points back at itself. The schema imports xml.xsd by
its W3C URL (for `xml:lang` on customers) like many real WSDLs do; clients resolve it offline.
"""

from __future__ import annotations

from string import Template
from xml.sax.saxutils import quoteattr

NAMESPACE = "urn:retrofit:demo:erp:v1"

OPERATIONS = ("GetCustomer", "ListInvoices", "GetInvoice", "RecordPayment", "ReversePayment", "VoidInvoice")

_TEMPLATE = Template("""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="DemoErp"
    targetNamespace="urn:retrofit:demo:erp:v1"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:erp="urn:retrofit:demo:erp:v1">

  <wsdl:documentation>Demo ERP (accounts receivable): customers, invoices and payments.
    Write operations accept an idempotencyKey: a repeated key returns the first answer
    instead of applying the change again.</wsdl:documentation>

  <wsdl:types>
    <xsd:schema targetNamespace="urn:retrofit:demo:erp:v1" elementFormDefault="qualified">
      <xsd:import namespace="http://www.w3.org/XML/1998/namespace"
                  schemaLocation="http://www.w3.org/2001/xml.xsd"/>

      <xsd:simpleType name="Money">
        <xsd:restriction base="xsd:decimal">
          <xsd:fractionDigits value="2"/>
        </xsd:restriction>
      </xsd:simpleType>
      <xsd:simpleType name="CurrencyCode">
        <xsd:restriction base="xsd:string">
          <xsd:pattern value="[A-Z]{3}"/>
        </xsd:restriction>
      </xsd:simpleType>
      <xsd:simpleType name="InvoiceStatus">
        <xsd:restriction base="xsd:string">
          <xsd:enumeration value="OPEN"/>
          <xsd:enumeration value="PARTIALLY_PAID"/>
          <xsd:enumeration value="PAID"/>
          <xsd:enumeration value="VOID"/>
        </xsd:restriction>
      </xsd:simpleType>
      <xsd:simpleType name="PaymentStatus">
        <xsd:restriction base="xsd:string">
          <xsd:enumeration value="APPLIED"/>
          <xsd:enumeration value="REVERSED"/>
        </xsd:restriction>
      </xsd:simpleType>
      <xsd:simpleType name="IdempotencyKey">
        <xsd:restriction base="xsd:string">
          <xsd:minLength value="1"/>
          <xsd:maxLength value="255"/>
        </xsd:restriction>
      </xsd:simpleType>

      <xsd:complexType name="Customer">
        <xsd:sequence>
          <xsd:element name="id" type="xsd:string"/>
          <xsd:element name="name" type="xsd:string"/>
          <xsd:element name="email" type="xsd:string" minOccurs="0"/>
          <xsd:element name="currency" type="erp:CurrencyCode"/>
          <xsd:element name="creditLimit" type="erp:Money"/>
          <xsd:element name="balance" type="erp:Money"/>
          <xsd:element name="overdueBalance" type="erp:Money"/>
          <xsd:element name="paymentTermsDays" type="xsd:int"/>
        </xsd:sequence>
        <xsd:attribute ref="xml:lang"/>
      </xsd:complexType>

      <xsd:complexType name="Invoice">
        <xsd:sequence>
          <xsd:element name="id" type="xsd:string"/>
          <xsd:element name="customerId" type="xsd:string"/>
          <xsd:element name="issueDate" type="xsd:date"/>
          <xsd:element name="dueDate" type="xsd:date"/>
          <xsd:element name="currency" type="erp:CurrencyCode"/>
          <xsd:element name="amount" type="erp:Money"/>
          <xsd:element name="amountPaid" type="erp:Money"/>
          <xsd:element name="amountDue" type="erp:Money"/>
          <xsd:element name="status" type="erp:InvoiceStatus"/>
          <xsd:element name="overdue" type="xsd:boolean"/>
          <xsd:element name="daysOverdue" type="xsd:int"/>
          <xsd:element name="voidReason" type="xsd:string" minOccurs="0"/>
        </xsd:sequence>
      </xsd:complexType>

      <xsd:complexType name="Payment">
        <xsd:sequence>
          <xsd:element name="id" type="xsd:string"/>
          <xsd:element name="invoiceId" type="xsd:string"/>
          <xsd:element name="amount" type="erp:Money"/>
          <xsd:element name="currency" type="erp:CurrencyCode"/>
          <xsd:element name="paymentDate" type="xsd:date"/>
          <xsd:element name="reference" type="xsd:string" minOccurs="0"/>
          <xsd:element name="status" type="erp:PaymentStatus"/>
          <xsd:element name="invoiceStatus" type="erp:InvoiceStatus"/>
          <xsd:element name="invoiceAmountDue" type="erp:Money"/>
        </xsd:sequence>
      </xsd:complexType>

      <xsd:element name="GetCustomer">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="customerId" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="GetCustomerResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="customer" type="erp:Customer"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>

      <xsd:element name="ListInvoices">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="customerId" type="xsd:string" minOccurs="0"/>
          <xsd:element name="status" type="erp:InvoiceStatus" minOccurs="0"/>
          <xsd:element name="overdueOnly" type="xsd:boolean" minOccurs="0"/>
          <xsd:element name="page" type="xsd:int" minOccurs="0"/>
          <xsd:element name="pageSize" type="xsd:int" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="ListInvoicesResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="invoices" type="erp:Invoice" minOccurs="0" maxOccurs="unbounded"/>
          <xsd:element name="page" type="xsd:int"/>
          <xsd:element name="pageSize" type="xsd:int"/>
          <xsd:element name="total" type="xsd:int"/>
          <xsd:element name="nextPage" type="xsd:int" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>

      <xsd:element name="GetInvoice">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="invoiceId" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="GetInvoiceResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="invoice" type="erp:Invoice"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>

      <xsd:element name="RecordPayment">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="invoiceId" type="xsd:string"/>
          <xsd:element name="amount" type="erp:Money"/>
          <xsd:element name="paymentDate" type="xsd:date" minOccurs="0"/>
          <xsd:element name="reference" type="xsd:string" minOccurs="0"/>
          <xsd:element name="idempotencyKey" type="erp:IdempotencyKey" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="RecordPaymentResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="payment" type="erp:Payment"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>

      <xsd:element name="ReversePayment">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="paymentId" type="xsd:string"/>
          <xsd:element name="reason" type="xsd:string"/>
          <xsd:element name="idempotencyKey" type="erp:IdempotencyKey" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="ReversePaymentResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="payment" type="erp:Payment"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>

      <xsd:element name="VoidInvoice">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="invoiceId" type="xsd:string"/>
          <xsd:element name="reason" type="xsd:string"/>
          <xsd:element name="idempotencyKey" type="erp:IdempotencyKey" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="VoidInvoiceResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="invoice" type="erp:Invoice"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>

      <xsd:element name="ErpFault">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="code" type="xsd:string"/>
          <xsd:element name="message" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
    </xsd:schema>
  </wsdl:types>

$messages
  <wsdl:message name="ErpFaultMessage">
    <wsdl:part name="fault" element="erp:ErpFault"/>
  </wsdl:message>

  <wsdl:portType name="DemoErpPortType">
$port_operations
  </wsdl:portType>

  <wsdl:binding name="DemoErpBinding" type="erp:DemoErpPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
$binding_operations
  </wsdl:binding>

  <wsdl:service name="DemoErpService">
    <wsdl:port name="DemoErpPort" binding="erp:DemoErpBinding">
      <soap:address location=$address/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
""")


def soap_action(operation: str) -> str:
    return f"{NAMESPACE}/{operation}"


def render_wsdl(address: str) -> bytes:
    """The WSDL with `address` as the service's soap:address."""
    messages = "\n".join(
        f'  <wsdl:message name="{op}Request">\n    <wsdl:part name="parameters" element="erp:{op}"/>\n'
        f'  </wsdl:message>\n  <wsdl:message name="{op}Response">\n'
        f'    <wsdl:part name="parameters" element="erp:{op}Response"/>\n  </wsdl:message>'
        for op in OPERATIONS
    )
    port_operations = "\n".join(
        f'    <wsdl:operation name="{op}">\n      <wsdl:input message="erp:{op}Request"/>\n'
        f'      <wsdl:output message="erp:{op}Response"/>\n'
        f'      <wsdl:fault name="ErpFault" message="erp:ErpFaultMessage"/>\n    </wsdl:operation>'
        for op in OPERATIONS
    )
    binding_operations = "\n".join(
        f'    <wsdl:operation name="{op}">\n      <soap:operation soapAction="{soap_action(op)}"/>\n'
        '      <wsdl:input><soap:body use="literal"/></wsdl:input>\n'
        '      <wsdl:output><soap:body use="literal"/></wsdl:output>\n'
        '      <wsdl:fault name="ErpFault"><soap:fault name="ErpFault" use="literal"/></wsdl:fault>\n'
        "    </wsdl:operation>"
        for op in OPERATIONS
    )
    text = _TEMPLATE.substitute(
        messages=messages,
        port_operations=port_operations,
        binding_operations=binding_operations,
        address=quoteattr(address),
    )
    return text.encode()

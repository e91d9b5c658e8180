"""Deployment settings of the QuickBooks adapter (`LEDGERBRIDGE_QUICKBOOKS_*`), read by every
service that books into QuickBooks. The defaults reach the sandbox's QuickBooks (`make up`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class QuickBooksSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_QUICKBOOKS_")

    client_id: str = Field(
        default="sandbox-qbo-client",
        description="The Intuit app's client id (developer.intuit.com, Keys & credentials).",
    )
    client_secret: SecretStr = Field(
        default=SecretStr("sandbox-qbo-secret"), description="The Intuit app's client secret."
    )
    token_url: str = Field(
        default="http://127.0.0.1:8100/quickbooks/oauth2/v1/tokens/bearer",
        description="Intuit's token endpoint (production: "
        "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer).",
    )
    authorize_url: str = Field(
        default="http://127.0.0.1:8100/quickbooks/connect/oauth2",
        description="Intuit's consent page a connection's consent URL opens (production: "
        "https://appcenter.intuit.com/connect/oauth2).",
    )
    api_url: str = Field(
        default="http://127.0.0.1:8100/quickbooks",
        description="The QuickBooks API host a newly connected company is called at "
        "(production: https://quickbooks.api.intuit.com; Intuit's sandbox companies: "
        "https://sandbox-quickbooks.api.intuit.com).",
    )
    token_database_url: str | None = Field(
        default=None,
        description="The database holding every connection's sealed QuickBooks tokens, shared "
        "by all services (a refresh retires the old refresh token, so there must be one copy). "
        "Required once a connection books into QuickBooks.",
    )
    minor_version: int = Field(default=75, ge=75, description="`minorversion` on every call.")
    requests_per_minute: int = Field(
        default=500,
        ge=1,
        description="This process's share of a company's 500 requests a minute; split it "
        "between the services that call the same company.",
    )
    concurrent_requests: int = Field(
        default=10, ge=1, le=10, description="This process's share of 10 calls at once."
    )

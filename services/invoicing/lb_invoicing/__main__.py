from lb_common.service_main import run_service
from lb_invoicing.bootstrap import bootstrap
from lb_invoicing.settings import InvoicingSettings

if __name__ == "__main__":
    settings = InvoicingSettings()
    run_service("invoicing", bootstrap(settings), settings)

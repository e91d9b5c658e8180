from lb_common.service_main import run_service
from lb_customers.bootstrap import bootstrap
from lb_customers.settings import CustomersSettings

if __name__ == "__main__":
    settings = CustomersSettings()
    run_service("customers", bootstrap(settings), settings)

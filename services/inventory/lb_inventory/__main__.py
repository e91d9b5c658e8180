from lb_common.service_main import run_service
from lb_inventory.bootstrap import bootstrap
from lb_inventory.settings import InventorySettings

if __name__ == "__main__":
    settings = InventorySettings()
    run_service("inventory", bootstrap(settings), settings)

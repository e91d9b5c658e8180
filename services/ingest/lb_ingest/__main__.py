from lb_common.service_main import run_service
from lb_ingest.bootstrap import bootstrap
from lb_ingest.settings import IngestSettings

if __name__ == "__main__":
    settings = IngestSettings()
    run_service("ingest", bootstrap(settings), settings)

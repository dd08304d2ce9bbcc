from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # Governance defines the gate interface; monitoring plugs its report-backed gates in.
        from governance.modelrisk.extensions import register_evidence_source
        from monitoring import modelrisk_facts, report_gates

        report_gates.register()
        # Model risk: validations freeze the reports they relied on; documentation cites them.
        register_evidence_source("reports", modelrisk_facts.report_evidence)

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # Governance defines the gate interface; monitoring plugs its report-backed gates in.
        from monitoring import audit_words, decision, report_gates

        report_gates.register()
        # Warnings, comparison rows and evidence-pack chapters for governance's decision page.
        decision.register()
        # Reports' and SLA monitoring's audit events in sentences.
        audit_words.register()

"""Names vulture cannot see used: Django, DRF, Celery and the templates reach them by string or convention.

Each line names one; delete it with the code it allows.
"""

_ = object()

_.IsStaffMember  # settings REST_FRAMEWORK DEFAULT_PERMISSION_CLASSES
_.problem_exception_handler  # settings REST_FRAMEWORK EXCEPTION_HANDLER
_.relay  # settings TEMPLATES context processor
_.permission_denied  # config.urls handler403
_.customers_can  # {% customers_can %} template tag
_.metric_value  # {% metric_value %} template filter
_.language_label  # templates/feedback/invitation_list.html
_.percent  # templates/customers/_import_progress.html
_.is_manual  # templates/okr/_key_result.html
_.in_pool  # templates/leads/lead_detail.html
_.merge_into_oldest  # customers admin action, by name
_.with_tag  # django-filter method="with_tag"
_.from_channel  # django-filter method="from_channel"
_.with_product  # django-filter method="with_product"
_.prepare_value  # Django form field hook
_.as_sqlite  # Django expression hook, per database vendor
_.do_POST  # http.server handler hook
_.log_message  # http.server handler hook
_.Params  # factory-boy traits
_.validate  # DRF serializer hook
_.ApiDocsAccess  # settings SPECTACULAR_SETTINGS SERVE_PERMISSIONS
_.AnonThrottle  # settings REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES
_.UserThrottle  # settings REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES
_.TokenThrottle  # settings REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES
_.login_locked_out  # settings AXES_LOCKOUT_CALLABLE
_.delete_queryset  # Django admin hook (bulk delete)
_.add_problem_responses  # SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS
_._is_list_view  # drf-spectacular AutoSchema hook (okr/api/metrics.py)
_.require_whole_object_on_put  # SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS
_.FilterBackend  # settings REST_FRAMEWORK DEFAULT_FILTER_BACKENDS
_.FormRenderer  # settings FORM_RENDERER
_._cleanup_token  # knox TokenAuthentication hook
_.TokenScheme  # drf-spectacular authentication extension (registered by subclassing)
_.entry_point_label  # templates/audit/record_history.html
_.action_label  # templates/audit/record_history.html
_.reason_label  # templates/audit/record_history.html
_.SearchIndex  # a migration operation (customers, leads, feedback migrations; vulture skips migrations)
_.deconstruct  # Django migration operation hook (config.search.SearchIndex)
_.state_forwards  # Django migration operation hook
_.database_forwards  # Django migration operation hook
_.database_backwards  # Django migration operation hook
_.as_postgresql  # Django expression hook, per database vendor
_.variant_keys  # factory-boy post_generation hook, passed by keyword (tests/factories/marketing.py ExperimentFactory)
_.run_child_validation  # DRF ListField hook (marketing.api.content_serializers.TextList)
_.own_fields  # templates/marketing/_journey_steps.html (marketing.journey_forms.StepForm)

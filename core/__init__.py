"""pdlens domain package: media, clinical task pipelines, analysis, storage. Imports no Streamlit."""

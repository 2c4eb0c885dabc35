"""Reports for managers: the pipeline report builder and the fixed reports provincial offices ask for."""

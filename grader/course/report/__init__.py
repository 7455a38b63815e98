"""`calcgrade report`: the class report's numbers, pictures and pages. Depends on everything before it except demo/."""

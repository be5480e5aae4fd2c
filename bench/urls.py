"""The product's routes with the benchmark's reference views in front (bench.settings)."""

from django.urls import path

from bench import views
from config import urls as product

urlpatterns = [
    path("bench/ceiling", views.ceiling),
    path("bench/floor/read", views.floor_read),
    path("bench/floor/write", views.floor_write),
    *product.urlpatterns,
]

handler404 = product.handler404
